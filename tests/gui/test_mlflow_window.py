"""The window's sync does what `modeldesk sync` does for MLflow, in a child process: variants a
colleague published to the shared tracking store appear in the tree as experimental models."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from desktop_app.services.context import AppContext
from tests.fakes.ollama import FakeOllama
from tests.gui.conftest import point_ollama


@pytest.mark.slow
def test_the_window_reads_the_teams_variants_back_from_mlflow(
    make_window: Any,
    ctx: AppContext,
    fake_ollama: FakeOllama,
    run: Any,
    qtbot: Any,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from desktop_app.adapters import mlflow_tracking as mt

    monkeypatch.delenv("MODELDESK_NO_MLFLOW", raising=False)
    shared = tmp_path / "team" / "mlflow.db"
    shared.parent.mkdir()
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{shared}")
    monkeypatch.setenv("MLFLOW_DISABLE_TELEMETRY", "true")
    # A colleague's variant of a model this machine also has, published to the team's store.
    mt.register_variant(
        mt.TrackingTarget(uri=f"sqlite:///{shared}", artifact_root=shared.parent / "artifacts"),
        "team-terse",
        system_prompt="Answer in one sentence.",
        base_model_id="ollama/llama3.2:latest",
        parameters={"temperature": 0.2},
    )
    point_ollama(ctx, fake_ollama.url)
    window = make_window([])
    run(window.refresh())
    child = window.mlflow_sync
    assert child is not None, "a full sync starts MLflow's part in a child process"
    assert child.wait(timeout=120) == 0, (ctx.home / "logs" / "mlflow.log").read_text()
    qtbot.waitUntil(lambda: window.tree_model.index_of("mlflow/team-terse").isValid(), timeout=20000)
    shared_variant = ctx.registry.get("mlflow/team-terse")
    assert shared_variant.system_prompt == "Answer in one sentence."
    assert shared_variant.parent_id == "ollama/llama3.2:latest"
