"""Media work in a short-lived child process with a memory and time limit.

A hostile file (a decompression bomb, a header that lies about its size) must fail its own unit
with a clear reason and leave the worker alive. Decoders are bounded from headers before they
run (images.py, dicom.py, video.py); this is the second wall: `run(func, *args, ...)` calls
`func` in a child forked from a clean forkserver (media libraries preloaded once, no threads or
database connections inherited) under RLIMIT_AS = its starting address space + `memory_bytes`
and RLIMIT_CPU. Whatever the decoder does, at worst the child dies.

`func` must be a module-level function of plain, picklable arguments and result. An exception
with a `.reason` (the media modules' errors) becomes `Refused(reason)`; running out of memory or
time, or dying, becomes `Refused` with the limit named. Each run logs its peak RSS (the
`peak_rss` attribute of the log record) so the cost stays visible."""

from __future__ import annotations

import errno
import logging
import multiprocessing
import os
import resource
import threading
import time

logger = logging.getLogger(__name__)

# Imported once in the forkserver, so a child starts with them loaded (~10 ms per run).
PRELOAD = ["numpy", "av", "pydicom", "PIL.Image", "datasets_app.media.probe", "datasets_app.media.video"]

_lock = threading.Lock()
_context = None


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


def _ctx():
    global _context
    with _lock:
        if _context is None:
            ctx = multiprocessing.get_context("forkserver")
            ctx.set_forkserver_preload(PRELOAD)
            _context = ctx
    return _context


def _address_space() -> int:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")


def _child(conn, memory_bytes: int, cpu_seconds: int, func, args, kwargs) -> None:
    """Runs in the child: limits first, then the work; sends (status, value, peak RSS)."""
    try:
        limit = _address_space() + memory_bytes
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
        resource.setrlimit(resource.RLIMIT_CPU, (cpu_seconds, cpu_seconds + 5))
        outcome = ("ok", func(*args, **kwargs))
    except MemoryError:
        outcome = ("memory", None)
    except OSError as exc:
        # Under RLIMIT_AS a decoder that cannot map a buffer or a thread's stack says ENOMEM or EAGAIN.
        memory = exc.errno in (errno.ENOMEM, errno.EAGAIN)
        outcome = ("memory", None) if memory else ("error", f"{type(exc).__name__}: {exc}")
    except Exception as exc:  # noqa: BLE001 - every failure goes back to the parent in words
        reason = getattr(exc, "reason", None)
        outcome = ("refused", reason) if isinstance(reason, str) else ("error", f"{type(exc).__name__}: {exc}")
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    try:
        conn.send((*outcome, peak))
    except MemoryError:
        conn.send(("memory", None, peak))
    conn.close()


def run(func, *args, label: str, memory_bytes: int, seconds: int, **kwargs):
    """func(*args, **kwargs) in a bounded child; its result, or Refused with a reason naming
    `label` and the limit that stopped it."""
    ctx = _ctx()
    receiver, sender = ctx.Pipe(duplex=False)
    proc = ctx.Process(
        target=_child, args=(sender, memory_bytes, seconds, func, args, kwargs), name="media-probe", daemon=True
    )
    started = time.monotonic()
    proc.start()
    sender.close()
    status, value, peak = "died", None, 0
    try:
        if receiver.poll(seconds + 10):
            try:
                status, value, peak = receiver.recv()
            except EOFError:
                pass
        else:
            status = "time"
    finally:
        proc.join(5)
        if proc.is_alive():
            proc.kill()
            proc.join()
        receiver.close()
    elapsed = time.monotonic() - started
    logger.info(
        "media child %s for %s: %s, peak %d KiB, %.3f s",
        getattr(func, "__name__", func), label, status, peak // 1024, elapsed,
        extra={"peak_rss": peak, "seconds": elapsed},
    )
    if status == "ok":
        return value
    if status == "refused":
        raise Refused(value)
    if status == "memory":
        raise Refused(
            f"Processing {label} needed more than {mib(memory_bytes)} of memory (MEDIA_PROBE_MEMORY_BYTES), "
            f"so it was stopped; the file is probably crafted or far larger than it looks."
        )
    if status == "time":
        raise Refused(f"Processing {label} took longer than {seconds} s (MEDIA_PROBE_SECONDS), so it was stopped.")
    if status == "error":
        raise Refused(f"{label} could not be read: {value}")
    raise Refused(
        f"Processing {label} stopped unexpectedly (exit code {proc.exitcode}); with a memory limit of "
        f"{mib(memory_bytes)} (MEDIA_PROBE_MEMORY_BYTES) a crafted file can end it this way."
    )
