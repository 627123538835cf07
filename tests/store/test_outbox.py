"""The MLflow outbox: runs waiting to be logged survive restarts, are listed once, leave when sent."""

from __future__ import annotations

import json
from pathlib import Path

from desktop_app.store.outbox import Outbox


def test_entries_are_kept_once_in_order_until_removed(tmp_path: Path) -> None:
    box = Outbox(tmp_path)
    assert box.run_ids() == []
    box.add("a")
    box.add("b")
    box.add("a")  # queued again (e.g. a resumed run): still once
    assert Outbox(tmp_path).run_ids() == ["a", "b"]  # a new process sees them
    box.failed("a", "server down")
    entry = Outbox(tmp_path).entries()[0]
    assert entry.attempts == 1 and entry.last_error == "server down"
    box.remove("a")
    assert Outbox(tmp_path).run_ids() == ["b"]
    assert json.loads((tmp_path / "mlflow-outbox.json").read_text())["version"] == 1
    assert not list(tmp_path.glob(".outbox-*"))  # no temp file left behind


def test_a_damaged_file_is_moved_aside_not_lost(tmp_path: Path) -> None:
    (tmp_path / "mlflow-outbox.json").write_text("[1, 2", encoding="utf-8")
    box = Outbox(tmp_path)
    assert box.run_ids() == []
    assert box.moved_aside is not None and box.moved_aside.read_text() == "[1, 2"
