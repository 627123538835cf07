"""Every test runs in its own data dir, with no real keyring, no proxy and no telemetry."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

# Fixture modules of the fake servers (each engineer appends theirs).
pytest_plugins = [
    "tests.fakes.ollama",
    "tests.fakes.openai_compat",
    "tests.fakes.github_models",
    "tests.fakes.kinds",
    "tests.mlflow_server",
]


@pytest.fixture(autouse=True)
def isolated_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    home = tmp_path / "home"
    monkeypatch.setenv("MODELDESK_HOME", str(home))
    monkeypatch.setenv("PYTHON_KEYRING_BACKEND", "keyring.backends.fail.Keyring")
    monkeypatch.setenv("MLFLOW_DISABLE_TELEMETRY", "true")
    # Evaluations and syncs skip MLflow unless a test turns it on (tests/**/test_*mlflow* do).
    monkeypatch.setenv("MODELDESK_NO_MLFLOW", "1")
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    monkeypatch.setenv("DO_NOT_TRACK", "1")
    monkeypatch.setenv("GRADIO_ANALYTICS_ENABLED", "False")
    proxies = ("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy", "ALL_PROXY")
    for var in ("GITHUB_TOKEN", "OLLAMA_HOST", *proxies):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    yield home
