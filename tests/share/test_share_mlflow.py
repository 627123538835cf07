"""Evaluations from the share app reach MLflow as every evaluation does: a stopped run waits in the
outbox (to be completed as one MLflow run once finished); with tracking off, nothing is queued."""

from __future__ import annotations

from typing import Any

from desktop_app.core.evaluation import EvaluationRun, RunStatus
from desktop_app.services import tracking
from desktop_app.services.context import AppContext
from desktop_app.share.evaluation import _to_mlflow


def test_a_stopped_run_waits_in_the_outbox(monkeypatch: Any) -> None:
    monkeypatch.delenv("MODELDESK_NO_MLFLOW", raising=False)
    ctx = AppContext.open()
    try:
        _to_mlflow(ctx, EvaluationRun(run_id="r-stopped", status=RunStatus.CANCELLED))
        assert tracking.outbox(ctx).run_ids() == ["r-stopped"]
    finally:
        ctx.close()


def test_with_tracking_off_nothing_is_queued() -> None:
    ctx = AppContext.open()  # the test environment sets MODELDESK_NO_MLFLOW=1
    try:
        _to_mlflow(ctx, EvaluationRun(run_id="r-off", status=RunStatus.CANCELLED))
        assert tracking.outbox(ctx).run_ids() == []
    finally:
        ctx.close()
