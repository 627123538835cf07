"""`modeldesk variant create|list|show|rm|grid|materialize` against the fake Ollama."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from desktop_app.cli import main
from tests.cli.test_eval_cmd import LLAMA, use_ollama
from tests.fakes.ollama import FakeOllama


def test_create_list_show_rm(
    fake_ollama: FakeOllama, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    use_ollama(fake_ollama)
    prompt = tmp_path / "pirate.txt"
    prompt.write_text("Talk like a pirate.\n", encoding="utf-8")
    assert (
        main(
            ["variant", "create", LLAMA, "--temperature", "0.3", "--system-file", str(prompt), "--stop", "##"]
        )
        == 0
    )
    assert capsys.readouterr().out == f"Created exp/llama3.2-temp0.3-sys-custom (variant of {LLAMA}).\n"
    assert main(["variant", "create", LLAMA, "--name", "cold", "--temperature", "0", "--json"]) == 0
    created = json.loads(capsys.readouterr().out)
    assert created["id"] == "exp/cold" and created["model_type"] == "experimental"
    assert created["categories"][0] == "experimental"

    assert main(["variant", "list"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].split() == ["ID", "BASE", "PARAMETERS", "SYSTEM", "MATERIALIZED", "AS"]
    assert out[2].split()[:3] == ["exp/cold", LLAMA, "temperature=0.0"]
    assert "Talk like a pirate." in out[3] and "stop=['##']" in out[3]

    assert main(["variant", "show", "llama3.2-temp0.3-sys-custom"]) == 0
    shown = capsys.readouterr().out
    assert "base model       ollama/llama3.2:latest" in shown
    assert "system prompt:\n  Talk like a pirate." in shown

    assert main(["variant", "create", LLAMA, "--name", "cold"]) == 2
    assert "A variant named cold already exists; use --replace" in capsys.readouterr().err
    assert main(["variant", "create", LLAMA, "--temperature", "5"]) == 2
    assert "temperature must be between 0 and 2, not 5." in capsys.readouterr().err

    assert main(["variant", "rm", "cold"]) == 0
    assert capsys.readouterr().out == "Removed exp/cold.\n"
    assert main(["variant", "rm", "cold"]) == 1
    assert "No variant 'cold'" in capsys.readouterr().err


def test_grid_dry_run_then_create(
    fake_ollama: FakeOllama, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    use_ollama(fake_ollama)
    a, b = tmp_path / "concise.txt", tmp_path / "friendly.txt"
    a.write_text("Be concise.", encoding="utf-8")
    b.write_text("Be friendly.", encoding="utf-8")
    args = ["variant", "grid", LLAMA, "--temperature", "0.2,0.7", "--system-file", f"{a},{b}"]
    assert main([*args, "--dry-run"]) == 0
    assert capsys.readouterr().out.splitlines() == [
        f"4 variant(s) of {LLAMA} would be made:",
        "  exp/llama3.2-temp0.2-sys-concise  temperature=0.2",
        "  exp/llama3.2-temp0.2-sys-friendly  temperature=0.2",
        "  exp/llama3.2-temp0.7-sys-concise  temperature=0.7",
        "  exp/llama3.2-temp0.7-sys-friendly  temperature=0.7",
    ]
    assert main([*args, "--json"]) == 0
    made = json.loads(capsys.readouterr().out)
    assert [m["system_prompt"] for m in made] == [
        "Be concise.",
        "Be friendly.",
        "Be concise.",
        "Be friendly.",
    ]
    assert main(["variant", "grid", LLAMA, "--top-k", "10,x"]) == 2
    assert "--top-k takes whole numbers separated by commas, not 'x'." in capsys.readouterr().err


def test_materialize(fake_ollama: FakeOllama, capsys: pytest.CaptureFixture[str]) -> None:
    use_ollama(fake_ollama)
    assert main(["variant", "create", LLAMA, "--name", "terse", "--system", "One word only."]) == 0
    assert main(["variant", "materialize", "terse", "--as", "terse-llama"]) == 0
    out, err = capsys.readouterr()
    assert "success" in err
    assert "Materialized exp/terse as terse-llama:latest on ollama" in out
    assert fake_ollama.find("terse-llama:latest") is not None
