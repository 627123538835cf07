"""`pool list`, pool facts in `show`, `source weight`, `pool off`, and chat/eval on a pool id, against
two fake Ollama hosts serving the same models."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from desktop_app.cli import main
from tests.fakes.ollama import FakeOllama

POOL = "pool/llama3.2:latest"


@pytest.fixture
def two_hosts(capsys: pytest.CaptureFixture[str]) -> Iterator[tuple[FakeOllama, FakeOllama]]:
    a, b = FakeOllama().start(), FakeOllama().start()
    assert main(["source", "rm", "ollama"]) == 0
    assert main(["source", "add", "ollama", "gpu-a", a.url]) == 0
    assert main(["source", "add", "ollama", "gpu-b", b.url]) == 0
    assert main(["sync"]) == 0
    capsys.readouterr()
    yield a, b
    a.stop()
    b.stop()


def test_pool_list_show_and_weight(two_hosts: object, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["pool", "list"]) == 0
    out = capsys.readouterr().out
    assert POOL in out and "gpu-a, gpu-b" in out
    assert main(["pool", "list", "--json"]) == 0
    pools = {p["id"]: p for p in json.loads(capsys.readouterr().out)}
    assert [h["id"] for h in pools[POOL]["hosts"]] == ["gpu-a/llama3.2:latest", "gpu-b/llama3.2:latest"]
    assert main(["show", POOL]) == 0
    out = capsys.readouterr().out
    assert "2 Ollama hosts with the same digest" in out and "host: gpu-b/llama3.2:latest" in out
    assert main(["show", "gpu-a/llama3.2:latest"]) == 0
    assert f"pool: {POOL} (2 hosts: gpu-a, gpu-b)" in capsys.readouterr().out
    assert main(["source", "weight", "gpu-b", "2"]) == 0
    assert "pool weight 2" in capsys.readouterr().out
    assert main(["pool", "list", "--json"]) == 0
    hosts = json.loads(capsys.readouterr().out)[0]["hosts"]
    assert [h["weight"] for h in hosts] == [1.0, 2.0]
    assert main(["source", "weight", "gpu-b", "0"]) == 0  # out of pools: one host left, no pool
    capsys.readouterr()
    assert main(["pool", "list", "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == []
    assert main(["source", "weight", "gpu-b", "lots"]) == 2
    assert "must be a number" in capsys.readouterr().err


def test_pooling_off_and_on(two_hosts: object, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["pool", "off"]) == 0
    assert main(["pool", "list"]) == 0
    assert "Pooling is off" in capsys.readouterr().out
    assert main(["chat", POOL, "hi"]) == 1
    assert "pooling is off" in capsys.readouterr().err
    assert main(["pool", "on"]) == 0
    assert main(["pool", "list", "--json"]) == 0
    assert POOL in capsys.readouterr().out


def test_chat_and_eval_take_a_pool_id(
    two_hosts: tuple[FakeOllama, FakeOllama], capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    assert main(["chat", POOL, "hi", "--json"]) == 0
    reply = json.loads(capsys.readouterr().out)
    assert reply["model"] == POOL and reply["host"] in ("gpu-a/llama3.2:latest", "gpu-b/llama3.2:latest")
    suite = tmp_path / "s.prompt.yml"
    rows = "".join(f"  - q: q{i}\n" for i in range(6))
    suite.write_text(
        "name: S\nmessages:\n  - role: user\n    content: '{{q}}'\n"
        "evaluators:\n  - name: sky\n    string: {contains: sky}\n"
        f"testData:\n{rows}"
    )
    assert main(["eval", str(suite), "--model", POOL, "--json"]) == 0
    out = capsys.readouterr().out
    assert POOL in out
    a, b = two_hosts
    assert a.requests["/api/chat"] + b.requests["/api/chat"] == 7  # the chat and six cases
    assert main(["eval", str(suite), "--model", POOL, "--per-host"]) == 0
    out = capsys.readouterr().out
    assert "HOST" in out and "MEAN LATENCY" in out
    rows = [line.split() for line in out.splitlines() if line.startswith(POOL)]
    assert {r[1] for r in rows} == {"gpu-a/llama3.2:latest", "gpu-b/llama3.2:latest"}
    assert sum(int(r[2]) for r in rows) == 6
