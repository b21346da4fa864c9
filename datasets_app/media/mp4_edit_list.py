"""MP4/MOV edit lists, read from box headers (a few kilobytes whatever the file size): an edit list
shifts, cuts or delays frames, so players and decoders may disagree on frame times."""

from __future__ import annotations

import os
import struct

_CONTAINER_BOXES = {b"moov", b"trak", b"edts", b"mdia"}


def _boxes(fh, start: int, end: int):
    """(type, payload start, box end) of the boxes in [start, end); reads headers only."""
    pos = start
    while pos + 8 <= end:
        fh.seek(pos)
        header = fh.read(16)
        if len(header) < 8:
            return
        size, kind = struct.unpack(">I4s", header[:8])
        body = pos + 8
        if size == 1 and len(header) == 16:
            size = struct.unpack(">Q", header[8:16])[0]
            body = pos + 16
        elif size == 0:
            size = end - pos
        if size < 8:
            return
        yield kind, body, min(pos + size, end)
        pos += size


def mp4_video_edit_list(path: str) -> list[tuple[int, int]] | None:
    """[(segment_duration, media_time), ...] of the first video track's edit list in a local
    MP4/MOV file; None when there is none (or the file is not MP4). Reads box headers, the
    `hdlr` and the `elst` only: a few kilobytes whatever the file size."""
    try:
        fh = open(path, "rb")
    except OSError:
        return None
    with fh:
        fh.seek(0, os.SEEK_END)
        size = fh.tell()
        for kind, body, end in _boxes(fh, 0, size):
            if kind != b"moov":
                continue
            for tkind, tbody, tend in _boxes(fh, body, end):
                if tkind != b"trak":
                    continue
                handler, edits = None, None
                for bkind, bbody, bend in _boxes(fh, tbody, tend):
                    if bkind == b"mdia":
                        for mkind, mbody, _mend in _boxes(fh, bbody, bend):
                            if mkind == b"hdlr":
                                fh.seek(mbody + 8)
                                handler = fh.read(4)
                    elif bkind == b"edts":
                        for ekind, ebody, _eend in _boxes(fh, bbody, bend):
                            if ekind == b"elst":
                                fh.seek(ebody)
                                version_flags, count = struct.unpack(">II", fh.read(8))
                                wide = version_flags >> 24 == 1
                                fmt, step = (">QqI", 20) if wide else (">IiI", 12)
                                edits = []
                                for _ in range(min(count, 1000)):
                                    seg, media_time, _rate = struct.unpack(fmt, fh.read(step))
                                    edits.append((seg, media_time))
                if handler == b"vide":
                    return edits
    return None


def edit_list_reason(path: str) -> str | None:
    """A sentence when a local MP4's video edit list shifts, cuts or delays frames, else None."""
    edits = mp4_video_edit_list(path)
    if not edits:
        return None
    if len(edits) == 1 and edits[0][1] == 0:
        return None  # the whole media, from its start: no effect
    empty = sum(1 for _seg, media_time in edits if media_time == -1)
    if empty:
        return (
            f"Edit list: the container delays the video with {empty} empty edit(s), so a player's "
            f"time 0 is not the first frame."
        )
    if len(edits) > 1:
        return f"Edit list: the video track has {len(edits)} edits, so frames are skipped or repeated on playback."
    return (
        f"Edit list: playback starts {edits[0][1]} media ticks into the video track (often to hide "
        f"a B-frame delay), so tools that ignore edit lists disagree on frame times."
    )
