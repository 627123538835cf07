"""`modeldesk share` end to end: a real Gradio subprocess over the fakes, driven with gradio_client.

Models by category (the window's filter), a streaming chat with the reasoning apart, an evaluation with
its reports, the login when public (without internet: the same auth path a share link would use),
remote models hidden without --allow-remote, and the key set in the keyring never in anything the
browser or the logs get.
"""

from __future__ import annotations

import base64
import json
import os
import re
import signal
from pathlib import Path
from typing import Any

import httpx
import pytest
from gradio_client import Client
from gradio_client.exceptions import AppError, AuthenticationError

from tests.share.conftest import ShareApp, ShareWorld, start_share

pytestmark = pytest.mark.slow

USER = "modeldesk"


def client(app: ShareApp, password: str | None = None) -> Client:
    auth = (USER, password) if password else None
    return Client(app.url, auth=auth, verbose=False, download_files=False)


def models(
    c: Client, category: str = "all", text: str = "", caps: list[str] | None = None, serving: str = "all"
):
    table, picker, summary = c.predict(category, text, caps or [], serving, None, api_name="/models")
    return [row[-1] for row in table["value"]["data"]], picker, summary


def chat(c: Client, model: str, text: str, think: str = "default") -> list[Any]:
    job = c.submit({"text": text, "files": []}, model, think, "", None, None, None, None, api_name="/chat")
    job.result()  # raises the app's error, if any
    return list(job.outputs())  # every streamed update, the last one complete


def texts(history: list[dict[str, Any]]) -> list[tuple[str, str, str]]:
    """(role, thought title or "", text) of each message the chatbot shows."""
    out = []
    for m in history:
        parts = m["content"] if isinstance(m["content"], list) else [m["content"]]
        text = "".join(p.get("text", "") for p in parts if isinstance(p, dict))
        out.append((m["role"], (m.get("metadata") or {}).get("title", ""), text))
    return out


# ----------------------------------------------------------------------------------------- the local app
def test_prints_its_local_url_and_binds_loopback_only(local_app: ShareApp) -> None:
    assert local_app.url.startswith("http://127.0.0.1:")
    assert local_app.value("Login: ") is None  # local: no login
    assert any("--allow-remote" in line for line in local_app.lines)  # says remote models are held back
    # What a browser (or a script) can ask for: listing, details, chat, evaluation. No pull, no delete.
    api = client(local_app).view_api(print_info=False, return_format="dict")
    assert set(api["named_endpoints"]) == {"/models", "/details", "/chat", "/evaluate"}


def test_models_by_category_filter_like_the_window(local_app: ShareApp) -> None:
    c = client(local_app)
    multimodal, picker, summary = models(c, "multimodal")
    assert set(multimodal) == {"ollama/llava:7b", "ollama/gemma3:4b"}
    assert summary == "2 models" and picker["value"] in multimodal
    # A model is under every category it belongs to.
    assert "ollama/qwen3:8b" in models(c, "reasoning")[0]
    assert "ollama/qwen3:8b" in models(c, "function_calling")[0]
    assert models(c, "embedding")[0] == ["ollama/nomic-embed-text:latest"]
    # Search words and capability chips (all of them) as in the window.
    assert models(c, "all", "qwen3")[0] == ["ollama/qwen3:8b"]
    assert models(c, "all", "", ["tools", "thinking"])[0] == ["ollama/qwen3:8b"]
    assert models(c, "all", "", ["vision", "embedding"])[0] == []
    # Details of a model, without its host address.
    details = c.predict("ollama/qwen3:8b", api_name="/details")
    assert "qwen3:8b" in details and "thinking" in details and "127.0.0.1" not in details


def test_remote_models_are_hidden_and_refused_without_allow_remote(
    local_app: ShareApp, share_world: ShareWorld
) -> None:
    c = client(local_app)
    ids, _picker, _summary = models(c)
    assert ids and all(i.startswith("ollama/") for i in ids)
    assert models(c, "cloud_text")[0] == []
    with pytest.raises(AppError, match="not in the list of choices"):
        models(c, "all", "", [], "remote")  # the switch has no Remote position here
    # Typed by hand into the API, a remote id is refused the same way as an unknown one.
    before = len(share_world.remote.requests)
    with pytest.raises(AppError, match="not one of the models shared here"):
        chat(c, "work/gpt-4o-mini", "hi")
    with pytest.raises(AppError, match="not one of the models shared here"):
        c.predict("work/gpt-4o-mini", api_name="/details")
    assert len(share_world.remote.requests) == before


def test_chat_streams_with_reasoning_apart_and_metrics(local_app: ShareApp) -> None:
    c = client(local_app)
    updates = chat(c, "ollama/qwen3:8b", "Why is the sky blue?", think="on")
    assert len(updates) >= 3  # streamed: several updates before the last one
    history, metrics = updates[-1][0], updates[-1][1]
    shown = texts(history)
    assert shown[0] == ("user", "", "Why is the sky blue?")
    thought = [s for s in shown if s[1] == "Thinking"]
    assert thought and "Rayleigh" in thought[0][2]
    final = history[-1]
    assert final["role"] == "assistant" and "blue" in texts([final])[0][2]
    assert "Rayleigh" not in texts([final])[0][2]  # the reasoning is not in the answer
    done = [m for m in history if (m.get("metadata") or {}).get("title") == "Thinking"]
    assert done[0]["metadata"]["status"] == "done"  # collapsed once the answer is there
    assert "first token" in metrics and "tokens/s" in metrics
    # Partial replies came before the last one: the answer grew.
    lengths = [len(texts(u[0])[-1][2]) for u in updates if u and u[0]]
    assert min(lengths) < max(lengths)


def test_images_only_for_models_that_read_them(
    local_app: ShareApp, share_world: ShareWorld, tmp_path: Path
) -> None:
    from gradio_client import handle_file

    image = tmp_path / "dot.png"
    image.write_bytes(
        bytes.fromhex(
            "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
            "1f15c4890000000d49444154789c6360000002000100ffff03000006000557bfabd40000000049454e44ae426082"
        )
    )
    c = client(local_app)
    msg = {"text": "What is in this picture?", "files": [handle_file(str(image))]}
    with pytest.raises(AppError, match="does not read images"):
        c.predict(msg, "ollama/qwen3:8b", "default", "", None, None, None, None, api_name="/chat")
    history = c.predict(msg, "ollama/llava:7b", "default", "", None, None, None, None, api_name="/chat")[0]
    roles = [m["role"] for m in history]
    assert roles[:2] == ["user", "user"] and roles[-1] == "assistant"  # the image, the text, the reply
    sent = share_world.ollama.last_bodies["/api/chat"]["messages"][-1]
    assert sent["images"] == [base64.b64encode(image.read_bytes()).decode("ascii")]


def test_evaluation_runs_and_offers_its_reports(local_app: ShareApp, share_world: ShareWorld) -> None:
    c = client(local_app)
    status, table, files = c.predict(
        "capitals-extended.prompt.yml",
        None,
        ["ollama/llama3.2:latest", "ollama/qwen3:8b"],
        "",
        api_name="/evaluate",
    )
    assert "8 of 8 cases" in status
    data = table["value"]
    assert data["headers"][1:] and any("ollama/qwen3:8b" in h for h in data["headers"])
    assert data["data"][0][0] == "names the capital" and any(r[0] == "pass rate" for r in data["data"])
    names = sorted(Path(f["path"] if isinstance(f, dict) else f).suffix for f in files)
    assert names == [".csv", ".html", ".json"]
    # The run is saved where `modeldesk eval` saves its runs.
    assert list((share_world.home / "runs").glob("*.jsonl"))
    # Reports download over HTTP.
    first = files[0]
    url = first["url"] if isinstance(first, dict) else None
    if url:
        assert httpx.get(url, timeout=10).status_code == 200


def test_an_uploaded_suite_is_parsed_by_the_same_parser(local_app: ShareApp, tmp_path: Path) -> None:
    from gradio_client import handle_file

    bad = tmp_path / "broken.prompt.yml"
    bad.write_text("name: broken\nmessages:\n  - role: user\n    content: [unclosed\n", encoding="utf-8")
    c = client(local_app)
    status, _table, files = c.predict(
        None, handle_file(str(bad)), ["ollama/llama3.2:latest"], "", api_name="/evaluate"
    )
    assert status.startswith("⚠") and re.search(r"broken\.prompt\.yml:\d+: ", status), status
    assert files is None
    good = tmp_path / "tiny.prompt.yml"
    good.write_text(
        "name: tiny\nmessages:\n  - role: user\n    content: Say {{word}}\ntestData:\n  - word: hi\n"
        "evaluators:\n  - name: says something\n    regex:\n      pattern: '.+'\n",
        encoding="utf-8",
    )
    status, _table, files = c.predict(
        None, handle_file(str(good)), ["ollama/llama3.2:latest"], "", api_name="/evaluate"
    )
    assert "1 of 1 cases" in status and len(files) == 3


# ----------------------------------------------------------------------------------------- the public app
def test_public_without_internet_keeps_serving_locally_behind_a_login(
    public_app: ShareApp, share_world: ShareWorld
) -> None:
    assert public_app.url.startswith("http://127.0.0.1:")
    assert public_app.value("Public URL: ") is None
    no_link = public_app.value("No public link: ")
    assert no_link and "internet" in no_link and no_link.count(".") == 1  # one plain sentence
    assert public_app.password == "correct-horse-battery"  # from --password-file
    with pytest.raises(AuthenticationError):
        client(public_app)
    with pytest.raises(ValueError, match="Could not login"):  # gradio answers 400 to a wrong password
        client(public_app, "wrong-password")
    for path in ("/config", "/gradio_api/info", "/gradio_api/queue/status"):
        assert httpx.get(public_app.url.rstrip("/") + path, timeout=10).status_code == 401
    c = client(public_app, public_app.password)
    ids = models(c)[0]
    assert "work/gpt-4o-mini" in ids and "ollama/qwen3:8b" in ids  # --allow-remote offers remote ones


def test_the_key_never_reaches_the_browser_or_the_logs(public_app: ShareApp, share_world: ShareWorld) -> None:
    key = share_world.key
    c = client(public_app, public_app.password)
    seen: list[Any] = []
    seen.append(models(c, "all"))
    seen.append(c.predict("work/gpt-4o-mini", api_name="/details"))
    seen.append(chat(c, "work/gpt-4o-mini", "Hello"))
    assert share_world.remote.requests, "the remote model was called"
    assert share_world.remote.requests[-1].headers.get("authorization", "").endswith(key)
    # A server that echoes the key in its error: the page still never shows it.
    share_world.remote.mode, share_world.remote.echo_key = "unauthorized", True
    try:
        failed = chat(c, "work/gpt-4o-mini", "Hello again")
    finally:
        share_world.remote.mode, share_world.remote.echo_key = "normal", False
    seen.append(failed)
    assert any("⚠" in t[2] for t in texts(failed[-1][0]))
    seen.append(c.view_api(print_info=False, return_format="dict"))
    # Raw HTTP, logged in as a browser would be: the page, its config, the API description.
    with httpx.Client(base_url=public_app.url, timeout=10) as http:
        assert (
            http.post("/login", data={"username": USER, "password": public_app.password}).status_code == 200
        )
        for path in ("/", "/config", "/gradio_api/info", "/theme.css", "/gradio_api/info?all_endpoints=true"):
            response = http.get(path)
            assert response.status_code == 200, path
            seen.append(response.text)
    blob = json.dumps(seen, default=str)
    assert key not in blob
    assert key[-12:] not in blob
    assert key not in public_app.output()  # the share process's own output and logs


def test_ctrl_c_stops_it_cleanly(share_world: ShareWorld) -> None:
    """Ctrl-C at a terminal: SIGINT to the foreground process group. (The window sends SIGTERM:
    tests/gui/test_share_dialog.py.)"""
    app = start_share(share_world, name="stop")
    os.killpg(app.proc.pid, signal.SIGINT)
    assert app.proc.wait(timeout=30) == 0
    out = app.output()
    assert "Stopped." in out and "Traceback" not in out
    with pytest.raises(httpx.HTTPError):
        httpx.get(app.url, timeout=2)
