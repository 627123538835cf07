"""The CLI against the fake Ollama: the issue-2 'done when' path, pull with progress and cancel, chat."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from desktop_app.cli import main
from tests.fakes.ollama import FakeOllama, make_cloud_model, make_model

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def configured(fake_ollama: FakeOllama, capsys: pytest.CaptureFixture[str]) -> FakeOllama:
    assert main(["source", "rm", "ollama"]) == 0
    assert main(["source", "add", "ollama", "ollama", fake_ollama.url]) == 0
    capsys.readouterr()
    return fake_ollama


def listed(capsys: pytest.CaptureFixture[str], *args: str) -> dict[str, dict[str, object]]:
    capsys.readouterr()
    assert main(["list", "--json", *args]) == 0
    return {m["id"]: m for m in json.loads(capsys.readouterr().out)}


def test_sync_list_then_host_down_keeps_models_offline(
    configured: FakeOllama, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["sync"]) == 0
    models = listed(capsys)
    assert len(models) == 6 and all(m["serving_type"] == "local" for m in models.values())
    assert models["ollama/nomic-embed-text:latest"]["categories"] == ["embedding"]
    assert models["ollama/deepseek-r1:7b"]["categories"] == ["reasoning", "text"]
    configured.stop()
    assert main(["sync"]) == 1
    assert "ollama: failed" in capsys.readouterr().err
    after = listed(capsys)
    assert after.keys() == models.keys()
    assert {m["status"] for m in after.values()} == {"offline"}


def test_show_human_and_json(configured: FakeOllama, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["sync"]) == 0
    capsys.readouterr()
    assert main(["show", "qwen3:8b"]) == 0
    out = capsys.readouterr().out
    assert "ollama/qwen3:8b" in out and "context length: 40960" in out and "reasoning" in out
    assert main(["show", "ollama/qwen3:8b", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["parameter_size"] == "8.2B"


def test_pull_prints_layer_progress_and_the_model_appears(
    configured: FakeOllama, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["pull", "phi3:mini"]) == 0
    out, err = capsys.readouterr()
    assert "pulling manifest" in err and "success" in err
    assert "%" in err and "ETA" in err and "/s" in err
    assert "pulled phi3:mini" in out
    assert "ollama/phi3:mini" in listed(capsys)


def test_pull_of_unknown_model_is_a_clear_error(
    configured: FakeOllama, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["pull", "no-such-model"]) == 1
    err = capsys.readouterr().err
    assert "error:" in err and "Traceback" not in err


def test_ctrl_c_cancels_a_pull_cleanly(configured: FakeOllama, isolated_home: Path) -> None:
    gate = threading.Event()
    configured.stream_gate = gate
    configured.gate_timeout = 30
    env = dict(os.environ, MODELDESK_HOME=str(isolated_home))
    proc = subprocess.Popen(
        [sys.executable, "-m", "desktop_app", "pull", "tinyllama"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert configured.wait_for(lambda: configured.in_flight_by_path["/api/pull"] > 0, 30)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=30)
    gate.set()
    assert proc.returncode == 130, err
    assert "Pull cancelled" in err and "Traceback" not in err
    assert configured.wait_for(lambda: configured.disconnects["/api/pull"] >= 1, 10)


def test_rm_warns_about_variants_and_deletes(
    configured: FakeOllama, capsys: pytest.CaptureFixture[str], isolated_home: Path
) -> None:
    from desktop_app.core.models import ModelType, UnifiedModel
    from desktop_app.store.registry import Registry

    assert main(["sync"]) == 0
    reg = Registry(isolated_home / "registry.db")
    reg.upsert(
        [
            UnifiedModel(
                id="exp/cold",
                name="cold",
                provider="ollama",
                model_type=ModelType.EXPERIMENTAL,
                parent_id="ollama/gemma3:4b",
            )
        ]
    )
    reg.close()
    capsys.readouterr()
    assert main(["rm", "ollama/gemma3:4b"]) == 1
    assert "exp/cold" in capsys.readouterr().err
    assert main(["rm", "ollama/gemma3:4b", "--yes"]) == 0
    models = listed(capsys)
    assert "ollama/gemma3:4b" not in models and "exp/cold" in models
    assert configured.find("gemma3:4b") is None


def test_chat_streams_with_thinking_and_metrics(
    configured: FakeOllama, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["sync"]) == 0
    capsys.readouterr()
    assert main(["chat", "ollama/qwen3:8b", "why?", "--think", "--json"]) == 0
    reply = json.loads(capsys.readouterr().out)
    assert reply["text"] == configured.reply_text
    assert reply["thinking"] == configured.thinking_text
    m = reply["metrics"]
    assert m["tokens"] > 0 and m["tokens_per_s"] == pytest.approx(40.0) and m["ttft_s"] >= 0
    assert main(["chat", "ollama/llama3.2:latest", "hello"]) == 0
    assert capsys.readouterr().out.strip() == configured.reply_text


def test_chat_cut_midstream_keeps_partial_text(
    configured: FakeOllama, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["sync"]) == 0
    configured.truncate_stream = "/api/chat"
    capsys.readouterr()
    assert main(["chat", "ollama/llama3.2:latest", "hello"]) == 1
    out, err = capsys.readouterr()
    assert out.strip() and configured.reply_text.startswith(out.strip())
    assert "partial reply is kept" in err or "dropped" in err


def test_embed_and_ps(configured: FakeOllama, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["sync"]) == 0
    capsys.readouterr()
    assert main(["embed", "nomic-embed-text:latest", "a", "b", "--json"]) == 0
    vectors = json.loads(capsys.readouterr().out)["embeddings"]
    assert len(vectors) == 2 and len(vectors[0]) == 768 and vectors[0] != vectors[1]
    assert main(["ps", "--json"]) == 0
    running = json.loads(capsys.readouterr().out)["ollama"]
    assert [m["name"] for m in running] == ["nomic-embed-text:latest"]


def test_old_generation_server_gets_categories_from_show(
    fake_ollama_old: FakeOllama, capsys: pytest.CaptureFixture[str]
) -> None:
    fake_ollama_old.models.append(make_model("mystery:1b", capabilities=[]))
    assert main(["source", "rm", "ollama"]) == 0
    assert main(["source", "add", "ollama", "old", fake_ollama_old.url]) == 0
    assert main(["sync"]) == 0
    models = listed(capsys)
    assert models["old/llava:7b"]["categories"] == ["multimodal", "text"]
    assert models["old/mystery:1b"]["categories"] == ["text"]
    assert fake_ollama_old.requests["/api/show"] == len(fake_ollama_old.models)


def test_unwritable_data_dir_is_a_clear_message(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    monkeypatch.setenv("MODELDESK_HOME", str(blocker / "home"))  # a folder inside a file: never writable
    assert main(["sync"]) == 1
    err = capsys.readouterr().err
    assert "Cannot write to the data folder" in err and "MODELDESK_HOME" in err and "Traceback" not in err


@pytest.mark.parametrize(
    ("flags", "sent", "shown"),
    [
        ([], None, False),  # the model's own default: the server's thinking models think, unshown
        (["--think"], True, True),
        (["--think", "max"], "max", True),
        (["--think", "low"], "low", True),
        (["--think=HIGH"], "high", True),
        (["--no-think"], False, False),
    ],
)
def test_chat_think_levels(
    configured: FakeOllama,
    capsys: pytest.CaptureFixture[str],
    flags: list[str],
    sent: bool | str | None,
    shown: bool,
) -> None:
    assert main(["sync"]) == 0
    capsys.readouterr()
    assert main(["chat", "ollama/qwen3:8b", "why?", *flags]) == 0
    body = configured.last_bodies["/api/chat"]
    assert body.get("think") == sent and ("think" in body) == (sent is not None)
    out, err = capsys.readouterr()
    assert out.strip() == configured.reply_text
    assert (configured.thinking_text in err) == shown


def test_chat_think_bad_level_is_a_usage_error(
    configured: FakeOllama, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["sync"]) == 0
    capsys.readouterr()
    assert main(["chat", "ollama/qwen3:8b", "why?", "--think", "extreme"]) == 2
    assert "not a thinking level" in capsys.readouterr().err
    assert configured.requests["/api/chat"] == 0


def test_chat_with_an_image_generator_says_it_cannot_chat(
    configured: FakeOllama, capsys: pytest.CaptureFixture[str]
) -> None:
    """Ollama's image-generation models (capability ``image``) cannot chat: say so before asking."""
    configured.add_model(
        make_model("x/z-image-turbo:latest", ["image"], "zimage", "6B", "FP8", 12_000_000_000)
    )
    assert main(["sync"]) == 0
    assert listed(capsys)["ollama/x/z-image-turbo:latest"]["categories"] == ["multimodal"]
    assert main(["chat", "ollama/x/z-image-turbo:latest", "a red fox"]) == 1
    assert "generates images and cannot chat" in capsys.readouterr().err
    assert configured.requests["/api/chat"] == 0


def test_show_of_a_cloud_model_says_where_it_runs_and_no_size(
    configured: FakeOllama, capsys: pytest.CaptureFixture[str]
) -> None:
    configured.add_model(make_cloud_model("gpt-oss:120b-cloud"))
    assert main(["sync"]) == 0
    capsys.readouterr()
    assert main(["show", "ollama/gpt-oss:120b-cloud"]) == 0
    out = capsys.readouterr().out
    assert "runs on ollama.com as gpt-oss:120b" in out and "ollama signin" in out
    assert "size on disk" not in out and "hybrid" in out
    model = listed(capsys)["ollama/gpt-oss:120b-cloud"]
    assert model["size_bytes"] is None and model["tags"] == ["cloud"]


def test_chat_with_a_signed_out_cloud_model_says_ollama_signin(
    configured: FakeOllama, capsys: pytest.CaptureFixture[str]
) -> None:
    configured.add_model(make_cloud_model("gpt-oss:120b-cloud"))
    assert main(["sync"]) == 0
    configured.cloud_signed_in = False
    capsys.readouterr()
    assert main(["chat", "ollama/gpt-oss:120b-cloud", "hi"]) == 1
    err = capsys.readouterr().err
    assert "ollama signin" in err and configured.signin_url in err and "key set" not in err
