"""The pull tracker the window and the CLI share: speed from readings at least 0.2 s apart (the first
is a starting point, so a resumed pull's old bytes are no speed), ETA from the smoothed speed, a layer
that restarts never gives a negative speed, and a stopped pull keeps its bytes but shows no ETA."""

from __future__ import annotations

import pytest

from desktop_app.core.chat import PullProgress
from desktop_app.services.pull_tracker import PullTracker

MB = 1_000_000


def layer(completed: int, total: int = 100 * MB, digest: str = "sha256:" + "a" * 64) -> PullProgress:
    return PullProgress(status=f"pulling {digest[7:19]}", digest=digest, total=total, completed=completed)


def test_speed_and_eta_from_successive_readings() -> None:
    tracker = PullTracker()
    first = tracker.update(layer(40 * MB), now=0.0)  # a resumed pull: 40 MB were there already
    assert first is not None and first.speed is None and first.eta is None
    view = tracker.update(layer(50 * MB), now=1.0)
    assert view is not None and view.speed == pytest.approx(10 * MB)
    assert view.eta == pytest.approx(5.0) and view.fraction == pytest.approx(0.5)
    view = tracker.update(layer(51 * MB), now=1.05)  # too soon: the speed does not jump
    assert view is not None and view.speed == pytest.approx(10 * MB)
    # The skipped reading moved no baseline: 20 MB in 1 s now, smoothed 0.7·10 + 0.3·20.
    view = tracker.update(layer(70 * MB), now=2.0)
    assert view is not None and view.speed == pytest.approx(13 * MB)
    assert view.eta == pytest.approx(30 / 13)


def test_a_restarting_layer_never_gives_a_negative_speed() -> None:
    tracker = PullTracker()
    tracker.update(layer(10 * MB), now=0.0)
    tracker.update(layer(20 * MB), now=1.0)
    view = tracker.update(layer(2 * MB), now=2.0)  # Ollama restarted the layer
    assert view is not None and view.speed == pytest.approx(10 * MB) and view.eta is not None


def test_layers_add_up_and_a_stopped_pull_shows_no_eta() -> None:
    tracker = PullTracker()
    a, b = "sha256:" + "a" * 64, "sha256:" + "b" * 64
    tracker.update(layer(0, 100 * MB, a), now=0.0)
    tracker.update(layer(50 * MB, 100 * MB, a), now=1.0)
    tracker.update(layer(100 * MB, 100 * MB, b), now=1.0)
    assert tracker.layers[b].done and tracker.layers[b].eta is None
    assert (tracker.completed, tracker.total) == (150 * MB, 200 * MB)
    assert tracker.fraction == pytest.approx(0.75)
    assert tracker.layers[a].eta is not None
    tracker.stop("cancelled")
    assert all(v.eta is None and v.speed is None for v in tracker.layers.values())
    late = tracker.update(layer(60 * MB, 100 * MB, a), now=2.0)  # an event already in flight
    assert late is not None and late.completed == 60 * MB and late.eta is None


def test_status_lines_without_a_layer_move_nothing() -> None:
    tracker = PullTracker()
    assert tracker.update(PullProgress(status="pulling manifest")) is None
    assert tracker.layers == {} and tracker.fraction is None
