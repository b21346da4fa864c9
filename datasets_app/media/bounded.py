"""Media work in a short-lived child process with a memory and time limit.

A hostile file (a decompression bomb, a header that lies about its size) must fail its own unit
with a clear reason and leave the worker alive. Decoders are bounded from headers before they
run (images.py, dicom.py, video.py); this is the second wall: `run(func, *args, ...)` calls
`func` in a child process of its own (a fresh interpreter started with `python -m
datasets_app.media.bounded`, media libraries preloaded, no threads or database connections
inherited) under RLIMIT_AS = its address space at the start of the run +
`memory_bytes`, and RLIMIT_CPU = its CPU time so far + `seconds`. Whatever the decoder does, at
worst the child dies.

Children are kept and reused (one run at a time each, idle ones parked here): a new process per
probe cost ~18 ms even from a forkserver, against ~2 ms for the probe of a photo, which made image
uploads several times slower. They are started as plain subprocesses, not `multiprocessing`
processes: Celery's prefork pool runs tasks in daemonic processes, which multiprocessing forbids
to have children. The limits are soft limits set again for every run; a child is replaced after a run that
ran out of memory or time, that died, or whose address space grew by a quarter of its budget, and
after RECYCLE_AFTER runs. (Starting a child costs ~0.25 s: at 200 runs a child, restarts cost image
ingestion a quarter of its rate in bench_images; the growth rule is what keeps children lean.)

`func` must be a module-level function of plain, picklable arguments and result. An exception
with a `.reason` (the media modules' errors) becomes `Refused(reason)`; running out of memory or
time, or dying, becomes `Refused` with the limit named. Each run logs its peak RSS (the
`peak_rss` attribute of the log record) so the cost stays visible."""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import resource
import signal
import socket
import subprocess
import sys
import threading
import time
from multiprocessing.connection import Connection
from pathlib import Path

logger = logging.getLogger(__name__)

# Imported once when a child starts, so its runs start with them loaded.
PRELOAD = ["numpy", "av", "pydicom", "PIL.Image", "datasets_app.media.probe", "datasets_app.media.video"]

# A child serves this many runs, then a fresh one takes over; at most MAX_IDLE wait between runs.
RECYCLE_AFTER = 10_000
MAX_IDLE = 4

_lock = threading.Lock()
_idle: list[_Child] = []


class Refused(Exception):
    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(reason)


def mib(n: int) -> str:
    return f"{n / 1024**2:.0f} MiB" if n >= 1024**2 else f"{n} bytes"


def megapixels(n: int) -> str:
    return f"{n / 1e6:.0f}" if n >= 1e6 else f"{n / 1e6:.2g}"


def too_many_pixels(what: str, width: int, height: int, limit: int) -> str:
    """The refusal of an image (or frame) over the per-image limit, in words."""
    return (
        f"{what} is {width}x{height} pixels ({megapixels(width * height)} megapixels); the limit is "
        f"{megapixels(limit)} megapixels per image (MEDIA_MAX_IMAGE_PIXELS)"
    )


def over_unit_budget(what: str, total: int, limit: int) -> str:
    return (
        f"{what} holds {megapixels(total)} megapixels; the limit is {megapixels(limit)} megapixels per "
        f"data unit (MEDIA_MAX_UNIT_PIXELS)."
    )


def _address_space() -> int:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")


def _reset_peak_rss() -> None:
    # "5" resets VmHWM to the current RSS (Linux >= 4.0), so each run's peak is its own.
    with contextlib.suppress(OSError), open("/proc/self/clear_refs", "w") as fh:
        fh.write("5")


def _peak_rss() -> int:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def _set_limits(memory_limit: int | None, cpu_seconds: int | None) -> None:
    """Soft limits only (the hard ones stay unlimited), so the next run can set its own."""
    unlimited = resource.RLIM_INFINITY
    resource.setrlimit(resource.RLIMIT_AS, (unlimited if memory_limit is None else memory_limit, unlimited))
    if cpu_seconds is not None:
        used = resource.getrusage(resource.RUSAGE_SELF)
        cpu = int(used.ru_utime + used.ru_stime) + cpu_seconds
        resource.setrlimit(resource.RLIMIT_CPU, (cpu, unlimited))


def _run_one(memory_limit: int, cpu_seconds: int, func, args, kwargs) -> tuple[str, object]:
    """One run in the child under its limits: (status, value)."""
    try:
        _set_limits(memory_limit, cpu_seconds)
        return ("ok", func(*args, **kwargs))
    except MemoryError:
        return ("memory", None)
    except OSError as exc:
        # Under RLIMIT_AS a decoder that cannot map a buffer or a thread's stack says ENOMEM or EAGAIN.
        memory = exc.errno in (errno.ENOMEM, errno.EAGAIN)
        return ("memory", None) if memory else ("error", f"{type(exc).__name__}: {exc}")
    except Exception as exc:  # noqa: BLE001 - every failure goes back to the parent in words
        reason = getattr(exc, "reason", None)
        return ("refused", reason) if isinstance(reason, str) else ("error", f"{type(exc).__name__}: {exc}")
    finally:
        with contextlib.suppress(ValueError, OSError):
            _set_limits(None, None)


def _serve(conn) -> None:
    """The child's loop: one run per message until the parent closes the pipe.

    Every run's memory limit counts from the child's address space when it started, not when the
    run starts: memory an earlier run left mapped (malloc keeps freed heap) must not widen the
    next run's budget. A child whose address space grew by a quarter of that budget retires after
    answering, and so does one that ran out of memory (a decoder's state after a failed
    allocation is not to be trusted)."""
    baseline = _address_space()
    while True:
        try:
            memory_bytes, cpu_seconds, func, args, kwargs = conn.recv()
        except EOFError:
            return
        _reset_peak_rss()
        status, value = _run_one(baseline + memory_bytes, cpu_seconds, func, args, kwargs)
        retire = status == "memory" or _address_space() > baseline + memory_bytes // 4
        try:
            conn.send((status, value, _peak_rss(), retire))
        except MemoryError:
            conn.send(("memory", None, _peak_rss(), True))
        if retire:
            return


_PROJECT_ROOT = str(Path(__file__).resolve().parents[2])


class _Child:
    def __init__(self) -> None:
        self.owner = os.getpid()
        ours, theirs = socket.socketpair()
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [_PROJECT_ROOT, os.environ.get("PYTHONPATH")]))}
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "datasets_app.media.bounded", str(theirs.fileno())],
            pass_fds=[theirs.fileno()], stdin=subprocess.DEVNULL, env=env, cwd=_PROJECT_ROOT,
        )
        theirs.close()
        self.conn = Connection(ours.detach())
        self.runs = 0

    def alive(self) -> bool:
        return self.proc.poll() is None

    @property
    def exitcode(self) -> int | None:
        return self.proc.returncode

    def call(self, message: tuple, wait: float) -> tuple[str, object, int, bool]:
        """Send one run and wait for its answer: (status, value, peak RSS, whether the child retires)."""
        self.runs += 1
        try:
            self.conn.send(message)
            if not self.conn.poll(wait):
                return ("time", None, 0, True)
            return self.conn.recv()
        except (EOFError, OSError):
            return ("died", None, 0, True)

    def stop(self) -> None:
        with contextlib.suppress(OSError):
            self.conn.close()
        try:
            self.proc.wait(1)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def _checkout() -> _Child:
    with _lock:
        if _idle and _idle[-1].owner != os.getpid():
            # A forked process (a Celery prefork child) must not talk to its parent's children.
            # Checked here rather than in an at-fork hook, which would also run between fork and
            # exec (any preexec_fn), where a destructor could wait on a lock held by a thread
            # that did not come along.
            _idle.clear()
        child = _idle.pop() if _idle else None
    if child is not None and child.alive():
        return child
    if child is not None:
        child.stop()
    return _Child()


def _checkin(child: _Child, status: str) -> None:
    if status in ("ok", "refused", "error") and child.runs < RECYCLE_AFTER:
        with _lock:
            if len(_idle) < MAX_IDLE:
                _idle.append(child)
                return
    child.stop()


def run(func, *args, label: str, memory_bytes: int, seconds: int, **kwargs):
    """func(*args, **kwargs) in a bounded child; its result, or Refused with a reason naming
    `label` and the limit that stopped it."""
    started = time.monotonic()
    child = _checkout()
    status, value, peak, retire = child.call((memory_bytes, seconds, func, args, kwargs), wait=seconds + 10)
    exitcode = None
    if retire:
        child.stop()
        exitcode = child.exitcode
        if exitcode == -signal.SIGXCPU:
            status = "time"
    else:
        _checkin(child, status)
    elapsed = time.monotonic() - started
    logger.info(
        "media child %s for %s: %s, peak %d KiB, %.3f s",
        getattr(func, "__name__", func), label, status, peak // 1024, elapsed,
        extra={"peak_rss": peak, "seconds": elapsed},
    )
    if status == "ok":
        return value
    raise Refused(_refusal(status, value, label, memory_bytes, seconds, exitcode))


def _refusal(status: str, value, label: str, memory_bytes: int, seconds: int, exitcode) -> str:
    if status == "refused":
        return value
    if status == "memory":
        return (
            f"Processing {label} needed more than {mib(memory_bytes)} of memory (MEDIA_PROBE_MEMORY_BYTES), "
            f"so it was stopped; the file is probably crafted or far larger than it looks."
        )
    if status == "time":
        return f"Processing {label} took longer than {seconds} s (MEDIA_PROBE_SECONDS), so it was stopped."
    if status == "error":
        return f"{label} could not be read: {value}"
    return (
        f"Processing {label} stopped unexpectedly (exit code {exitcode}); with a memory limit of "
        f"{mib(memory_bytes)} (MEDIA_PROBE_MEMORY_BYTES) a crafted file can end it this way."
    )


def _child_main(fd: int) -> None:
    import importlib

    for name in PRELOAD:
        importlib.import_module(name)
    _serve(Connection(fd))


if __name__ == "__main__":
    _child_main(int(sys.argv[1]))
