"""Who gets in, what they may use, and what never leaves: tokens, remote models, keys, errors."""

from __future__ import annotations

import socket
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest

from desktop_app.cli import main
from desktop_app.core.errors import InvalidInput
from desktop_app.serve.config import ServeConfig, is_loopback
from tests.fakes.ollama import FakeOllama
from tests.fakes.openai_compat import FakeOpenAIServer

TOKEN = "tok-" + "x" * 40


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("127.0.0.1", True),
        ("127.3.2.1", True),
        ("::1", True),
        ("[::1]", True),
        ("localhost", True),
        ("0.0.0.0", False),
        ("::", False),
        ("192.168.1.20", False),
        ("example.com", False),
    ],
)
def test_only_loopback_binds_go_without_a_token(host: str, loopback: bool) -> None:
    assert is_loopback(host) is loopback
    config, generated = ServeConfig.prepare(host, 8765)
    assert (config.token is None) is loopback and generated is not loopback
    if not loopback:
        assert config.token and len(config.token) >= 32
        with pytest.raises(InvalidInput, match="needs a token"):
            ServeConfig(host, 8765, None)


def test_token_file_is_read_and_checked(tmp_path: Path) -> None:
    good = tmp_path / "token"
    good.write_text(TOKEN + "\n")
    config, generated = ServeConfig.prepare("0.0.0.0", 0, token_file=good)
    assert config.token == TOKEN and not generated
    short = tmp_path / "short"
    short.write_text("abc")
    with pytest.raises(InvalidInput, match="at least 16"):
        ServeConfig.prepare("127.0.0.1", 0, token_file=short)
    with pytest.raises(InvalidInput, match="Cannot read the token file"):
        ServeConfig.prepare("127.0.0.1", 0, token_file=tmp_path / "missing")


def test_cli_refuses_bad_arguments_before_serving(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["serve", "--port", "70000"]) == 2
    assert "not a TCP port" in capsys.readouterr().err
    assert main(["serve", "--token-file", str(tmp_path / "none")]) == 2
    assert "Cannot read the token file" in capsys.readouterr().err


def test_token_required_off_loopback(serve: Callable[..., Any]) -> None:
    # Configured as for a bind on all interfaces (the test itself only listens on 127.0.0.1).
    with serve(host="0.0.0.0", token=TOKEN) as srv:
        with pytest.raises(openai.AuthenticationError) as err:
            srv.client(api_key="wrong").models.list()
        assert err.value.status_code == 401 and err.value.code == "invalid_api_key"
        bare = httpx.get(f"{srv.url}/models")
        assert bare.status_code == 401 and "Missing bearer token" in bare.json()["error"]["message"]
        assert any(m.id == "ollama/qwen3:8b" for m in srv.client(api_key=TOKEN).models.list())
        reply = srv.client(api_key=TOKEN).chat.completions.create(
            model="ollama/llama3.2:latest", messages=[{"role": "user", "content": "hi"}]
        )
        assert reply.choices[0].message.content


def test_loopback_refuses_foreign_host_headers_and_non_json_posts(serve: Callable[..., Any]) -> None:
    """A web page cannot drive the token-less loopback server: not by DNS rebinding (its Host header
    names its own site), not by a form post (not JSON, so the browser would have to ask first)."""
    with serve() as srv:
        rebound = httpx.get(f"{srv.url}/models", headers={"Host": "evil.example:8765"})
        form = httpx.post(
            f"{srv.url}/chat/completions",
            content=b'{"model": "ollama/llama3.2:latest", "messages": [{"role": "user", "content": "x"}]}',
            headers={"Content-Type": "text/plain"},
        )
        ok = httpx.get(f"{srv.url}/models", headers={"Host": f"localhost:{srv.port}"})
    assert rebound.status_code == 403 and rebound.json()["error"]["type"] == "invalid_request_error"
    assert form.status_code == 415
    assert ok.status_code == 200


def test_source_key_never_in_any_response(serve: Callable[..., Any], fake_openai: FakeOpenAIServer) -> None:
    key = fake_openai.api_key
    assert key
    seen: list[str] = []
    with serve(allow_remote=True) as srv, httpx.Client(base_url=srv.url, timeout=20) as http:

        def record(response: httpx.Response) -> None:
            seen.append(str(response.headers) + response.text)

        record(http.get("/models"))
        record(http.get("/models/work/gpt-4o-mini"))
        chat = {"model": "work/gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}]}
        record(http.post("/chat/completions", json=chat))
        record(http.post("/chat/completions", json={**chat, "stream": True}))
        record(http.post("/embeddings", json={"model": "work/text-embedding-3-small", "input": "x"}))
        # The service refuses the key and echoes it back in its message.
        fake_openai.echo_key = True
        fake_openai.mode = "unauthorized"
        refused = http.post("/chat/completions", json=chat)
        record(refused)
        record(http.post("/chat/completions", json={**chat, "stream": True}))
    assert refused.status_code == 502 and refused.json()["error"]["code"] == "upstream_auth_failed"
    assert all(key not in text for text in seen)
    assert any("Incorrect API key" in text for text in seen)  # the message itself did come through


def test_rate_limit_passes_retry_after_on(serve: Callable[..., Any], fake_openai: FakeOpenAIServer) -> None:
    fake_openai.rate_limit_header = "retry-after"
    fake_openai.rate_limit_wait = 7
    fake_openai.rate_limit_count = 1
    with serve(allow_remote=True) as srv, pytest.raises(openai.RateLimitError) as err:
        srv.client().chat.completions.create(
            model="work/gpt-4o-mini", messages=[{"role": "user", "content": "hi"}], stream=True
        )
    assert err.value.response.headers["retry-after"] == "7"
    assert len(fake_openai.calls("/chat/completions")) == 1  # passed on at once, not waited out here


def test_upstream_down_is_503_and_midstream_error_an_event(
    serve: Callable[..., Any], fake_ollama: FakeOllama
) -> None:
    with serve() as srv:
        client = srv.client()
        fake_ollama.error_midstream = "/api/chat"
        stream = client.chat.completions.create(
            model="ollama/llama3.2:latest", messages=[{"role": "user", "content": "hi"}], stream=True
        )
        with pytest.raises(openai.APIError, match="unexpected EOF"):
            list(stream)
        fake_ollama.error_midstream = False
        fake_ollama.stop()
        with pytest.raises(openai.InternalServerError) as err:
            client.chat.completions.create(
                model="ollama/llama3.2:latest", messages=[{"role": "user", "content": "hi"}], stream=True
            )
        assert err.value.status_code == 503 and err.value.code == "upstream_unavailable"


def test_client_leaving_mid_stream_stops_the_source(
    serve: Callable[..., Any], fake_ollama: FakeOllama
) -> None:
    fake_ollama.chunk_delay = 0.05
    with serve() as srv:
        with httpx.stream(
            "POST",
            f"{srv.url}/chat/completions",
            json={
                "model": "ollama/llama3.2:latest",
                "messages": [{"role": "user", "content": "hi"}],
                "stream": True,
            },
            timeout=20,
        ) as response:
            lines = response.iter_lines()
            assert next(lines).startswith("data: ")
        assert fake_ollama.wait_for(lambda: fake_ollama.disconnects["/api/chat"] > 0, timeout=10)


def test_listening_socket_says_tcp_so_replies_are_not_held_by_nagle() -> None:
    """asyncio sets TCP_NODELAY only on sockets whose proto is IPPROTO_TCP; on a socket made with proto
    0 every event after the headers waited ~40 ms for the client's delayed ACK."""
    from desktop_app.serve.server import bind

    sock = bind(ServeConfig("127.0.0.1", 0))
    try:
        assert sock.proto == socket.IPPROTO_TCP
    finally:
        sock.close()


def test_variant_of_a_remote_model_is_hidden_without_allow_remote(
    serve: Callable[..., Any], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["variant", "create", "work/gpt-4o-mini", "--name", "cloudy", "--system", "Be terse."]) == 0
    capsys.readouterr()
    with serve() as srv:
        assert "exp/cloudy" not in {m.id for m in srv.client().models.list()}
        with pytest.raises(openai.NotFoundError, match="--allow-remote"):
            srv.client().chat.completions.create(
                model="exp/cloudy", messages=[{"role": "user", "content": "x"}]
            )
    with serve(allow_remote=True) as srv:
        reply = srv.client().chat.completions.create(
            model="exp/cloudy", messages=[{"role": "user", "content": "x"}]
        )
    assert reply.choices[0].message.content == "Hello! You said: x"
