"""The fake Ollama answers raw HTTP as the real server does (ollama/ollama ``server/routes.go``,
``api/types.go``, ``server/cloud_proxy.go``), so tests built on it catch what a real daemon would."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from tests.fakes.ollama import FakeOllama, make_cloud_model, make_model


def post(fake: FakeOllama, path: str, body: dict[str, Any]) -> httpx.Response:
    return httpx.post(fake.url + path, json=body, timeout=5, trust_env=False)


def chat_lines(response: httpx.Response) -> list[dict[str, Any]]:
    return [json.loads(line) for line in response.text.splitlines() if line.strip()]


@pytest.mark.parametrize("generation", ["new", "old"])
def test_tags_newest_first_capabilities_omitted_when_empty_and_remote_fields_listed(generation: str) -> None:
    models = [
        make_model("old:latest", modified_at="2026-01-01T00:00:00.000000000Z"),
        make_model("bare:latest", capabilities=[], modified_at="2026-03-01T00:00:00.000000000Z"),
        make_cloud_model("gpt-oss:120b-cloud", modified_at="2026-02-01T00:00:00.000000000Z"),
    ]
    with FakeOllama(models, generation=generation) as fake:
        listed = httpx.get(fake.url + "/api/tags", timeout=5, trust_env=False).json()["models"]
    assert [m["name"] for m in listed] == ["bare:latest", "gpt-oss:120b-cloud", "old:latest"]
    assert "capabilities" not in listed[0]
    assert ("capabilities" in listed[2]) == (generation == "new")
    assert (
        listed[1]["remote_model"] == "gpt-oss:120b" and listed[1]["remote_host"] == "https://ollama.com:443"
    )
    assert listed[1]["size"] < 1000
    assert "remote_model" not in listed[2]


def test_a_pulled_model_is_listed_first(fake_ollama: FakeOllama) -> None:
    assert post(fake_ollama, "/api/pull", {"model": "phi3:mini", "stream": False}).status_code == 200
    listed = httpx.get(fake_ollama.url + "/api/tags", timeout=5, trust_env=False).json()["models"]
    assert listed[0]["name"] == "phi3:mini"


@pytest.mark.parametrize(
    ("think", "status", "error"),
    [
        (
            "extreme",
            400,
            'invalid think value: "extreme" (must be "high", "medium", "low", "max", true, or false)',
        ),
        ("High", 400, 'invalid think value: "High" (must be "high", "medium", "low", "max", true, or false)'),
        (1, 400, 'think must be a boolean or string ("high", "medium", "low", "max", true, or false)'),
        ("max", 200, None),
        (False, 200, None),
    ],
)
def test_think_values_as_the_server_takes_them(
    fake_ollama: FakeOllama, think: Any, status: int, error: str | None
) -> None:
    body = {"model": "qwen3:8b", "messages": [{"role": "user", "content": "hi"}], "think": think}
    response = post(fake_ollama, "/api/chat", body)
    assert response.status_code == status
    if error is not None:
        assert response.json() == {"error": error}


def test_thinking_models_think_by_default_and_others_refuse_think(fake_ollama: FakeOllama) -> None:
    messages = [{"role": "user", "content": "hi"}]
    lines = chat_lines(post(fake_ollama, "/api/chat", {"model": "qwen3:8b", "messages": messages}))
    assert any(line["message"].get("thinking") for line in lines)
    refused = post(fake_ollama, "/api/chat", {"model": "llama3.2", "messages": messages, "think": "low"})
    assert refused.status_code == 400 and refused.json() == {"error": '"llama3.2" does not support thinking'}
    # think: false is accepted by any model
    assert post(
        fake_ollama, "/api/chat", {"model": "llama3.2", "messages": messages, "think": False}
    ).is_success


def test_tool_calls_carry_an_id(fake_ollama: FakeOllama) -> None:
    tool = {"type": "function", "function": {"name": "f", "parameters": {"type": "object", "properties": {}}}}
    body = {"model": "llama3.2", "messages": [{"role": "user", "content": "hi"}], "tools": [tool]}
    calls = [
        c
        for line in chat_lines(post(fake_ollama, "/api/chat", body))
        for c in line["message"].get("tool_calls", [])
    ]
    assert len(calls) == 1 and calls[0]["id"].startswith("call_") and len(calls[0]["id"]) == 13


@pytest.mark.parametrize(
    ("setting", "status", "body"),
    [
        ("cloud_signed_in", 401, {"error": "unauthorized", "signin_url": FakeOllama().signin_url}),
        ("cloud_disabled", 403, {"error": "ollama cloud is disabled: remote model is unavailable"}),
        ("cloud_reachable", 500, None),
    ],
)
def test_cloud_errors_are_proxied(fake_ollama: FakeOllama, setting: str, status: int, body: Any) -> None:
    fake_ollama.add_model(make_cloud_model("gpt-oss:120b-cloud"))
    setattr(fake_ollama, setting, setting == "cloud_disabled")
    response = post(fake_ollama, "/api/chat", {"model": "gpt-oss:120b-cloud", "messages": []})
    assert response.status_code == status
    if body is not None:
        assert response.json() == body
    else:
        assert "ollama.com" in response.json()["error"]
    assert post(fake_ollama, "/api/show", {"model": "gpt-oss:120b-cloud"}).status_code == 200  # new: cached


def test_old_servers_proxy_show_of_a_cloud_model(fake_ollama_old: FakeOllama) -> None:
    fake_ollama_old.add_model(make_cloud_model("gpt-oss:120b-cloud"))
    fake_ollama_old.cloud_reachable = False
    assert post(fake_ollama_old, "/api/show", {"model": "gpt-oss:120b-cloud"}).status_code == 502
    assert post(fake_ollama_old, "/api/show", {"model": "llama3.2"}).status_code == 200


def test_a_bad_think_value_fails_before_the_model_is_looked_up(fake_ollama: FakeOllama) -> None:
    response = post(fake_ollama, "/api/chat", {"model": "ghost:1b", "messages": [], "think": "lots"})
    assert response.status_code == 400 and response.json()["error"].startswith("invalid think value")
