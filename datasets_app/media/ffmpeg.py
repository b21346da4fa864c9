"""Running ffmpeg for the re-encode and image-sequence jobs: progress, and a memory cap.

ffmpeg decodes whatever the file holds, so it runs under an address-space limit (RLIMIT_AS, set
by the shell that execs it): a crafted file fails its own job with a clear reason instead
of taking the worker's machine down. The limit is address space, not resident memory: ffmpeg with
libx264 maps ~0.9 GiB for a 640x480 encode on 2 cores (thread stacks, frame pools) and more with
more cores and bigger frames, so the default (MEDIA_REENCODE_MEMORY_BYTES, 4 GiB) is generous."""

from __future__ import annotations

import errno
import signal
import subprocess
import tempfile

from .bounded import mib


class FFmpegOutOfMemory(Exception):
    """ffmpeg hit its address-space limit (`reason` names the limit and the setting)."""

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(reason)


# The shell's exit status when it could not set the limit (ffmpeg never ran).
LIMIT_REFUSED = 125


def memory_limited(cmd: list[str], memory_bytes: int | None) -> list[str]:
    """`cmd` run with its address space capped at `memory_bytes` (RLIMIT_AS, soft and hard): a
    shell sets the limit and execs the command; `cmd` itself without a limit.

    Not a preexec_fn: with one, Python runs in the child between fork and exec (every at-fork
    hook, any destructor a hook sets off), where a lock held by another of the worker's threads
    hangs the child before ffmpeg starts. Without one, subprocess starts the shell with vfork."""
    if not memory_bytes:
        return list(cmd)
    script = (
        'ulimit -v "$0" || { echo "could not set ffmpeg\'s memory limit of $0 KiB: this machine\'s hard '
        f'limit is lower: lower MEDIA_REENCODE_MEMORY_BYTES" >&2; exit {LIMIT_REFUSED}; }}; exec "$@"'
    )
    return ["/bin/sh", "-c", script, str(max(1, int(memory_bytes) // 1024)), *cmd]


# How ffmpeg fails when an allocation (a buffer, a thread's stack, a mapping) is refused: its own
# ENOMEM/EAGAIN messages, or a crash of code that did not check. The limit is the likely cause then.
_OOM_SIGNS = (
    "cannot allocate memory", "out of memory", "resource temporarily unavailable", "failed to map segment",
    "bad_alloc", "malloc",
)
_OOM_SIGNALS = (signal.SIGSEGV, signal.SIGABRT, signal.SIGBUS, signal.SIGKILL)


def ran_out_of_memory(returncode: int, stderr: str) -> bool:
    """Whether a failed ffmpeg run under a memory limit failed for want of memory."""
    if returncode < 0 and -returncode in _OOM_SIGNALS:
        return True
    text = (stderr or "").lower()
    return returncode != 0 and any(sign in text for sign in _OOM_SIGNS)


def out_of_memory_reason(memory_bytes: int, stderr: str = "", *, setting: str = "MEDIA_REENCODE_MEMORY_BYTES") -> str:
    lines = [ln.strip() for ln in (stderr or "").splitlines() if ln.strip()]
    said = f" ffmpeg said: {'; '.join(lines[-2:])}" if lines else ""
    return (
        f"ffmpeg ran out of memory: it may use at most {mib(memory_bytes)} of address space ({setting}). "
        f"A video this large needs a higher limit, or the file is crafted to exhaust memory.{said}"
    )


def run_ffmpeg(
    cmd: list[str], *, on_progress=None, timeout: float | None = None, memory_bytes: int | None = None
) -> None:
    """Runs an ffmpeg command, calling on_progress(frames_done) as `-progress pipe:1` reports, with
    its address space capped at `memory_bytes` (RLIMIT_AS) when given.

    Raises FFmpegOutOfMemory when it failed for want of memory under that cap, else
    subprocess.CalledProcessError with ffmpeg's last error lines in `.stderr`."""
    # stderr goes to a file: a corrupt input can log more than a pipe buffer holds.
    with tempfile.TemporaryFile() as errfile:
        try:
            proc = subprocess.Popen(memory_limited(cmd, memory_bytes), stdout=subprocess.PIPE, stderr=errfile, text=True)
        except OSError as exc:
            if memory_bytes and exc.errno in (errno.ENOMEM, errno.EAGAIN):
                raise FFmpegOutOfMemory(out_of_memory_reason(memory_bytes, str(exc))) from None
            raise
        with proc:
            assert proc.stdout is not None
            for line in proc.stdout:
                key, _, value = line.strip().partition("=")
                if key == "frame" and on_progress is not None:
                    try:
                        on_progress(int(value))
                    except ValueError:
                        pass
            rc = proc.wait(timeout=timeout)
        errfile.seek(max(0, errfile.tell() - 4000))
        err = errfile.read().decode("utf-8", "replace")
    if rc != 0:
        if memory_bytes and ran_out_of_memory(rc, err):
            raise FFmpegOutOfMemory(out_of_memory_reason(memory_bytes, err))
        raise subprocess.CalledProcessError(rc, cmd[:1], stderr=err)
