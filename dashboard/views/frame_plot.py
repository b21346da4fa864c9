"""A small server-rendered SVG of frame durations over time, so uneven timing can be seen."""

from __future__ import annotations

import itertools
from dataclasses import dataclass

WIDTH = 640
HEIGHT = 140
PAD = 28
MAX_POINTS = 320


@dataclass(frozen=True)
class FramePlot:
    width: int
    height: int
    points: str  # polyline "x,y x,y ..."
    expected_y: float | None
    y_max_ms: float
    duration_s: float
    frames: int
    min_ms: float
    max_ms: float


def frame_duration_plot(times: list[float], fps: float) -> FramePlot | None:
    """Frame durations (ms) against frame index, bucketed to at most MAX_POINTS points keeping
    each bucket's largest duration, so a single long frame still shows. None under 2 frames."""
    if len(times) < 2:
        return None
    durations = [(b - a) * 1000.0 for a, b in itertools.pairwise(times)]
    n = len(durations)
    bucket = max(1, -(-n // MAX_POINTS))
    peaks = [max(durations[i : i + bucket]) for i in range(0, n, bucket)]
    expected = 1000.0 / fps if fps else None
    top = max(max(peaks), expected or 0.0) * 1.15 or 1.0
    inner_w, inner_h = WIDTH - 2 * PAD, HEIGHT - 2 * PAD

    def y(ms: float) -> float:
        return round(PAD + inner_h - (max(ms, 0.0) / top) * inner_h, 1)

    step = inner_w / max(1, len(peaks) - 1)
    points = " ".join(f"{round(PAD + i * step, 1)},{y(p)}" for i, p in enumerate(peaks))
    return FramePlot(
        width=WIDTH,
        height=HEIGHT,
        points=points,
        expected_y=y(expected) if expected else None,
        y_max_ms=round(top, 1),
        duration_s=round(times[-1] - times[0], 2),
        frames=len(times),
        min_ms=round(min(durations), 2),
        max_ms=round(max(durations), 2),
    )
