"""A pull's progress as the window, the CLI and any other face show it: per layer and overall, with one
way of computing speed and ETA (they used to differ between the pull dialog and `modeldesk pull`).

Qt-free: the pull dialog and the CLI's printer feed it the ``PullProgress`` events that
``services.library.pull_model`` yields and read :class:`LayerView` back.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from desktop_app.core.chat import PullProgress

__all__ = ["LayerRate", "LayerView", "PullTracker"]

_MIN_INTERVAL = 0.2  # readings closer than this do not move the speed (Ollama reports many per second)
_SMOOTHING = 0.3  # weight of the newest reading in the smoothed speed


class LayerRate:
    """Speed (bytes/s, smoothed) and ETA of one layer from successive ``completed`` readings.

    The first reading is only a starting point: a resumed pull starts at the bytes it already had,
    which say nothing about this connection's speed. Progress can go backwards when a layer restarts;
    such a reading resets the baseline instead of making the speed negative."""

    def __init__(self) -> None:
        self.last_time: float | None = None
        self.last_completed = 0
        self.speed: float | None = None

    def update(self, completed: int, now: float | None = None) -> None:
        now = time.monotonic() if now is None else now
        if self.last_time is None:
            self.last_time, self.last_completed = now, completed
            return
        dt = now - self.last_time
        if dt < _MIN_INTERVAL and self.speed is not None:
            return
        delta = completed - self.last_completed
        if dt > 0 and delta > 0:
            current = delta / dt
            self.speed = (
                current if self.speed is None else (1 - _SMOOTHING) * self.speed + _SMOOTHING * current
            )
        self.last_time, self.last_completed = now, completed

    def eta(self, total: int, completed: int) -> float | None:
        if not self.speed or self.speed <= 0:
            return None
        return max(0.0, (total - completed) / self.speed)


@dataclass
class LayerView:
    """One layer as shown: bytes so far, size, speed and ETA (None while unknown, and once the pull
    stopped: a cancelled or failed pull shows how far it got, never a time to go)."""

    digest: str
    total: int | None = None
    completed: int = 0
    speed: float | None = None
    eta: float | None = None
    rate: LayerRate = field(default_factory=LayerRate, repr=False)

    @property
    def fraction(self) -> float | None:
        return min(1.0, self.completed / self.total) if self.total else None

    @property
    def done(self) -> bool:
        return bool(self.total) and self.completed >= (self.total or 0)

    @property
    def short(self) -> str:
        return self.digest.removeprefix("sha256:")[:12]


@dataclass
class PullTracker:
    """Every layer of one pull, in the order they appeared, and the pull as a whole."""

    layers: dict[str, LayerView] = field(default_factory=dict)
    stopped: str | None = None  # "cancelled" or "failed" once the pull ended early

    def update(self, progress: PullProgress, now: float | None = None) -> LayerView | None:
        """Take one event; the layer it moved, or None for a status line without a layer."""
        if not progress.digest:
            return None
        layer = self.layers.setdefault(progress.digest, LayerView(progress.digest))
        if progress.total:
            layer.total = progress.total
        layer.completed = progress.completed or 0
        if layer.total and not layer.done and self.stopped is None:
            layer.rate.update(layer.completed, now)
            layer.speed = layer.rate.speed
            layer.eta = layer.rate.eta(layer.total, layer.completed)
        else:
            layer.speed = layer.eta = None
        return layer

    def stop(self, why: str) -> None:
        """The pull ended before its layers did: keep the bytes, drop every speed and ETA."""
        self.stopped = why
        for layer in self.layers.values():
            layer.speed = layer.eta = None

    @property
    def total(self) -> int:
        return sum(layer.total or 0 for layer in self.layers.values())

    @property
    def completed(self) -> int:
        return sum(min(layer.completed, layer.total or 0) for layer in self.layers.values())

    @property
    def fraction(self) -> float | None:
        """Of the bytes known so far (Ollama announces layers as it reaches them)."""
        total = self.total
        return self.completed / total if total else None
