"""CLI behaviour that needs no server: sources, usage errors, exit codes, damaged files."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from desktop_app.cli import main


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_python_dash_m_works() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "desktop_app", "--version"], capture_output=True, text=True, timeout=60
    )
    assert out.returncode == 0 and out.stdout.startswith("modeldesk ")


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("ftp://host", "must start with http:// or https://"),
        ("http://", "no host name"),
        ("http://host:99999", "port"),
        ("not a url", "must start with http"),
    ],
)
def test_source_add_rejects_invalid_urls_with_the_reason(
    capsys: pytest.CaptureFixture[str], url: str, reason: str
) -> None:
    assert main(["source", "add", "ollama", "gpu", url]) == 2
    err = capsys.readouterr().err
    assert reason in err and "Traceback" not in err


def test_source_add_list_disable_rm_round_trip(
    capsys: pytest.CaptureFixture[str], isolated_home: Path
) -> None:
    assert main(["source", "add", "ollama", "gpu-box", "http://10.0.0.5:11434/"]) == 0
    assert main(["source", "add", "ollama", "gpu-box", "http://10.0.0.6:11434"]) == 2
    assert "already exists" in capsys.readouterr().err
    assert main(["source", "disable", "gpu-box"]) == 0
    capsys.readouterr()
    assert main(["source", "list", "--json"]) == 0
    listed = {s["name"]: s for s in json.loads(capsys.readouterr().out)}
    assert listed["gpu-box"]["base_url"] == "http://10.0.0.5:11434"
    assert listed["gpu-box"]["enabled"] is False
    assert listed["ollama"]["enabled"] is True
    assert main(["source", "rm", "gpu-box"]) == 0
    saved = json.loads((isolated_home / "settings.json").read_text())
    assert [s["name"] for s in saved["sources"]] == ["ollama"]


def test_bad_source_name(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["source", "add", "ollama", "bad name", "http://h:1"]) == 2
    assert "Invalid source name" in capsys.readouterr().err


@pytest.mark.parametrize("name", ["pool", "exp", "mlflow", "Pool"])
def test_a_source_cannot_take_a_name_modeldesk_ids_use(
    name: str, capsys: pytest.CaptureFixture[str], isolated_home: Path
) -> None:
    """pool/…, exp/… and mlflow/… are ModelDesk's own ids: a source so named would mix with them."""
    assert main(["source", "add", "ollama", name, "http://10.0.0.5:11434"]) == 2
    assert "cannot name a source" in capsys.readouterr().err
    saved = json.loads((isolated_home / "settings.json").read_text())
    assert name not in [s["name"] for s in saved["sources"]]


def test_unknown_source_and_model_are_clear(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["source", "enable", "nope"]) == 2
    assert "No source named 'nope'" in capsys.readouterr().err
    assert main(["show", "ollama/none:latest"]) == 1
    assert "modeldesk sync" in capsys.readouterr().err


def test_list_empty_registry(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["list", "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == []
    assert main(["list"]) == 0
    assert "modeldesk sync" in capsys.readouterr().err


def test_usage_error_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["list", "--category", "nonsense"]) == 2
    assert main(["frobnicate"]) == 2


def test_sync_with_host_down_names_the_source_and_exits_1(capsys: pytest.CaptureFixture[str]) -> None:
    port = free_port()
    assert main(["source", "rm", "ollama"]) == 0
    assert main(["source", "add", "ollama", "lab", f"http://127.0.0.1:{port}"]) == 0
    capsys.readouterr()
    assert main(["sync"]) == 1
    err = capsys.readouterr().err
    assert "lab: failed" in err and f"127.0.0.1:{port}" in err and "Traceback" not in err
    assert main(["doctor"]) == 1
    out = capsys.readouterr().out
    assert "✗ source lab" in out and "→" in out


def test_damaged_registry_is_reported_and_replaced(
    capsys: pytest.CaptureFixture[str], isolated_home: Path
) -> None:
    isolated_home.mkdir(parents=True, exist_ok=True)
    (isolated_home / "registry.db").write_bytes(b"garbage" * 1000)
    assert main(["list"]) == 0
    err = capsys.readouterr().err
    assert "moved to" in err and "registry.db.corrupt-" in err
    assert any(p.name.startswith("registry.db.corrupt-") for p in isolated_home.iterdir())


def test_hand_set_capabilities_are_stored_in_settings(
    capsys: pytest.CaptureFixture[str], isolated_home: Path
) -> None:
    assert main(["source", "add", "openai", "vllm", "http://127.0.0.1:8000/v1"]) == 0
    assert main(["source", "caps", "vllm", "qwen2.5-vl", "vision, tools"]) == 0
    saved = json.loads((isolated_home / "settings.json").read_text())
    vllm = next(s for s in saved["sources"] if s["name"] == "vllm")
    assert vllm["options"]["capabilities"] == {"qwen2.5-vl": ["tools", "vision"]}
    assert main(["source", "caps", "vllm", "qwen2.5-vl", "-"]) == 0
    saved = json.loads((isolated_home / "settings.json").read_text())
    assert next(s for s in saved["sources"] if s["name"] == "vllm")["options"]["capabilities"] == {}
    assert main(["source", "caps", "ollama", "x", "tools"]) == 2
    assert "reports capabilities itself" in capsys.readouterr().err


def test_broken_pipe_is_not_a_crash(isolated_home: Path) -> None:
    from desktop_app.core.models import UnifiedModel
    from desktop_app.store.registry import Registry

    reg = Registry(isolated_home / "registry.db")
    reg.upsert(UnifiedModel(id=f"h/model-{i}", name=f"model-{i}", provider="h") for i in range(5000))
    reg.close()
    proc = subprocess.run(
        f"{sys.executable} -m desktop_app list --json | head -c 10",
        shell=True,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.stdout == '[\n{"id":"h'
    assert "Traceback" not in proc.stderr and "internal error" not in proc.stderr, proc.stderr


def test_gui_without_a_display_says_so_instead_of_aborting(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    for var in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setattr(sys, "platform", "linux")
    assert main(["gui"]) == 1
    err = capsys.readouterr().err
    assert "no display" in err and "modeldesk --help" in err


def test_source_concurrency_is_kept_in_settings(capsys: pytest.CaptureFixture[str]) -> None:
    from desktop_app.services.context import AppContext

    assert main(["source", "add", "openai", "llama", "http://127.0.0.1:8000/v1"]) == 0
    assert main(["source", "concurrency", "llama", "3"]) == 0
    assert "llama: up to 3 requests at once" in capsys.readouterr().out
    assert AppContext.open().settings.source("llama").options["concurrency"] == 3
    assert main(["source", "concurrency", "llama", "-"]) == 0
    assert "concurrency" not in AppContext.open().settings.source("llama").options
    assert main(["source", "concurrency", "llama", "0"]) == 2
    assert main(["source", "concurrency", "llama", "many"]) == 2
    assert "whole number" in capsys.readouterr().err
