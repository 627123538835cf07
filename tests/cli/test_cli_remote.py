"""The CLI end to end against the fakes: local and remote side by side, and a retired GitHub Models."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from desktop_app.cli import main
from tests.fakes.github_models import FakeGitHubModels
from tests.fakes.ollama import FakeOllama


def configure(
    capsys: pytest.CaptureFixture[str],
    ollama: FakeOllama,
    github: FakeGitHubModels,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert main(["source", "rm", "ollama"]) == 0
    assert main(["source", "add", "ollama", "ollama", ollama.url]) == 0
    assert main(["source", "add", "github", "github", "--base-url", github.url]) == 0
    assert github.api_key is not None
    monkeypatch.setenv("GITHUB_TOKEN", github.api_key)
    capsys.readouterr()


def test_sync_and_list_show_local_and_remote_side_by_side(
    capsys: pytest.CaptureFixture[str],
    fake_ollama: FakeOllama,
    fake_github: FakeGitHubModels,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    configure(capsys, fake_ollama, fake_github, monkeypatch)
    assert main(["sync"]) == 0
    assert "ollama: ok, 6 models" in capsys.readouterr().out
    assert main(["list", "--json"]) == 0
    models = {m["id"]: m for m in json.loads(capsys.readouterr().out)}
    llava = models["ollama/llava:7b"]
    assert llava["serving_type"] == "local" and llava["categories"] == ["multimodal", "text"]
    assert models["ollama/nomic-embed-text:latest"]["category"] == "embedding"
    assert models["ollama/qwen3:8b"]["categories"] == ["function_calling", "reasoning", "text"]
    gpt = models["github/openai/gpt-4.1"]
    assert gpt["serving_type"] == "remote" and gpt["category"] == "cloud_text"
    assert models["github/deepseek/deepseek-r1"]["category"] == "cloud_code"
    # One capability filter works across local and remote.
    assert main(["list", "--json", "--category", "multimodal"]) == 0
    multimodal = {m["id"] for m in json.loads(capsys.readouterr().out)}
    assert "ollama/llava:7b" in multimodal and any(i.startswith("github/") for i in multimodal)
    # chat streams from the remote model like a local one.
    assert main(["chat", "github/openai/gpt-4.1", "hi", "--json"]) == 0
    reply = json.loads(capsys.readouterr().out)
    assert reply["text"] and reply["metrics"]["ttft_s"] is not None


def test_retired_github_reads_as_retired_in_sync_list_and_doctor(
    capsys: pytest.CaptureFixture[str],
    fake_ollama: FakeOllama,
    fake_github: FakeGitHubModels,
    monkeypatch: pytest.MonkeyPatch,
    isolated_home: Path,
) -> None:
    configure(capsys, fake_ollama, fake_github, monkeypatch)
    assert main(["sync"]) == 0
    capsys.readouterr()
    fake_github.mode = "retired"
    assert main(["sync"]) == 1
    err = capsys.readouterr().err
    assert "github: retired" in err and "2026-07-30" in err and "source add openai" in err
    assert "ollama: ok" not in err
    assert main(["list"]) == 0
    out, err = capsys.readouterr()
    assert "retired" in out and "source github is retired" in err
    assert main(["list", "--json", "--source", "github"]) == 0
    kept = json.loads(capsys.readouterr().out)
    assert kept and all(m["status"] == "retired" for m in kept)
    assert main(["doctor"]) == 1
    out = capsys.readouterr().out
    assert "✗ source github" in out and "retired" in out and "Azure AI Foundry" in out
    assert "✓ source ollama" in out
    # The key is nowhere in what we wrote.
    key = fake_github.api_key
    assert key
    for path in isolated_home.rglob("*"):
        if path.is_file():
            assert key.encode() not in path.read_bytes(), path
