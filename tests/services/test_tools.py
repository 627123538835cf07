"""The tool loop over the real adapters against the fakes (Ollama and OpenAI-compatible protocols), with
the built-in tools and with a real MCP server written with the SDK (stdio and streamable HTTP)."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest

from desktop_app.core.chat import ChatChunk, ChatMessage
from desktop_app.core.errors import InvalidInput
from desktop_app.core.models import SourceConfig, SourceKind
from desktop_app.core.tools import Approval, McpServerConfig, ServerState, ToolCallEvent, ToolResultEvent
from desktop_app.services.context import AppContext
from desktop_app.services.sync import sync_source
from desktop_app.services.tools import LoopEvent, ToolRegistry, ToolSession, chat_with_tools
from tests.fakes.mcp_server import BIG_SIZE
from tests.fakes.ollama import FakeOllama
from tests.fakes.openai_compat import FakeOpenAIServer
from tests.fakes.tool_script import ToolScript

ROOT = Path(__file__).resolve().parents[2]
LLAMA = "ollama/llama3.2:latest"
SERVER = [sys.executable, "-m", "tests.fakes.mcp_server"]


@pytest.fixture
async def ctx() -> AsyncIterator[AppContext]:
    context = AppContext.open()
    yield context
    await context.aclose()
    context.close()


@pytest.fixture
async def registry(ctx: AppContext) -> AsyncIterator[ToolRegistry]:
    reg = ToolRegistry.open(ctx)
    yield reg
    await reg.aclose()


async def use_ollama(ctx: AppContext, fake: FakeOllama) -> None:
    config = SourceConfig(name="ollama", kind=SourceKind.OLLAMA, base_url=fake.url)
    ctx.settings.sources = [config]
    ctx.save_settings()
    assert (await sync_source(ctx, config)).ok


def add_test_server(registry: ToolRegistry, name: str = "t", *extra: str, timeout: float = 30.0) -> None:
    registry.add_server(
        McpServerConfig(
            name=name, command=SERVER[0], args=[*SERVER[1:], *extra], cwd=str(ROOT), timeout_s=timeout
        )
    )


async def run_loop(
    ctx: AppContext,
    registry: ToolRegistry,
    model: str,
    patterns: list[str],
    answers: list[Approval] | None = None,
    **session_args: object,
) -> tuple[list[LoopEvent], list[ChatMessage], list[ToolCallEvent]]:
    tools = await registry.resolve(patterns)
    session = ToolSession(tools=tools, **session_args)  # type: ignore[arg-type]
    messages = [ChatMessage(role="user", content="what is 2^31 times 3, and what time is it in Tokyo")]
    asked: list[ToolCallEvent] = []
    queue = list(answers or [])

    async def approve(event: ToolCallEvent) -> Approval:
        asked.append(event)
        return queue.pop(0) if queue else Approval.ONCE

    events = [
        e async for e in chat_with_tools(ctx, registry, model, messages, session=session, approve=approve)
    ]
    return events, messages, asked


def results(events: list[LoopEvent]) -> list[ToolResultEvent]:
    return [e for e in events if isinstance(e, ToolResultEvent)]


def answer(events: list[LoopEvent]) -> str:
    return "".join(e.content for e in events if isinstance(e, ChatChunk))


TOKYO = ToolScript(
    rounds=[[("calculator", {"expression": "2^31 * 3"}), ("current_time", {"timezone": "Asia/Tokyo"})]]
)


async def test_calculator_and_time_loop_over_ollama(
    ctx: AppContext, registry: ToolRegistry, fake_ollama: FakeOllama
) -> None:
    await use_ollama(ctx, fake_ollama)
    fake_ollama.tool_script = ToolScript(rounds=TOKYO.rounds)
    events, messages, asked = await run_loop(ctx, registry, LLAMA, ["calculator", "current_time"])
    assert [e.spec.name for e in asked if e.spec] == ["calculator", "current_time"]
    outs = results(events)
    assert outs[0].result.text == "6442450944" and not outs[0].result.is_error
    assert "Asia/Tokyo" in outs[1].result.text and "JST" in outs[1].result.text
    assert "6442450944" in answer(events)
    # What went back to Ollama: the assistant's calls (with ids) and tool replies named by tool_name.
    last = fake_ollama.tool_script.seen[-1]
    assert [m["role"] for m in last] == ["user", "assistant", "tool", "tool"]
    assert [c["function"]["name"] for c in last[1]["tool_calls"]] == ["calculator", "current_time"]
    assert last[2]["tool_name"] == "calculator" and last[2]["content"] == "6442450944"
    assert [m.role for m in messages] == ["user", "assistant", "tool", "tool"]


async def test_loop_over_openai_protocol_pairs_call_ids(
    ctx: AppContext, registry: ToolRegistry, fake_openai: FakeOpenAIServer
) -> None:
    assert fake_openai.api_key
    ctx.keys.set("oa", fake_openai.api_key)
    config = SourceConfig(name="oa", kind=SourceKind.OPENAI_COMPAT, base_url=fake_openai.url)
    ctx.settings.sources = [config]
    ctx.save_settings()
    assert (await sync_source(ctx, config)).ok
    fake_openai.tool_script = ToolScript(rounds=TOKYO.rounds)
    events, _, _ = await run_loop(ctx, registry, "oa/gpt-4o-mini", ["calculator", "current_time"])
    assert "6442450944" in answer(events)
    last = fake_openai.tool_script.seen[-1]
    assistant, *tool_replies = last[1:]
    ids = [c["id"] for c in assistant["tool_calls"]]
    assert all(i.startswith("call_") for i in ids)
    assert json.loads(assistant["tool_calls"][0]["function"]["arguments"]) == {"expression": "2^31 * 3"}
    assert [m["tool_call_id"] for m in tool_replies] == ids
    assert tool_replies[0]["content"] == "6442450944"


async def test_deny_sends_a_refusal_and_runs_nothing(
    ctx: AppContext, registry: ToolRegistry, fake_ollama: FakeOllama
) -> None:
    await use_ollama(ctx, fake_ollama)
    fake_ollama.tool_script = ToolScript(rounds=[[("calculator", {"expression": "1/0"})]])
    events, _, asked = await run_loop(ctx, registry, LLAMA, ["calculator"], answers=[Approval.DENY])
    assert len(asked) == 1
    (out,) = results(events)
    assert not out.approved and "did not allow" in out.result.text
    assert "did not allow" in answer(events)  # the model was told


async def test_always_asks_once_per_tool(
    ctx: AppContext, registry: ToolRegistry, fake_ollama: FakeOllama
) -> None:
    await use_ollama(ctx, fake_ollama)
    call = ("calculator", {"expression": "1+1"})
    fake_ollama.tool_script = ToolScript(rounds=[[call], [call], [call]])
    events, _, asked = await run_loop(ctx, registry, LLAMA, ["calculator"], answers=[Approval.ALWAYS])
    assert len(asked) == 1 and len(results(events)) == 3
    assert all(r.result.text == "2" for r in results(events))


async def test_rounds_are_bounded(ctx: AppContext, registry: ToolRegistry, fake_ollama: FakeOllama) -> None:
    await use_ollama(ctx, fake_ollama)
    fake_ollama.tool_script = ToolScript(rounds=[[("calculator", {"expression": "2"})]] * 50)
    events, _, _ = await run_loop(ctx, registry, LLAMA, ["calculator"], allow_all=True, max_rounds=3)
    assert len(results(events)) == 3
    assert fake_ollama.tool_script.seen[-1] and "Here is what the tools said" in answer(events)


async def test_mcp_tool_over_stdio(ctx: AppContext, registry: ToolRegistry, fake_ollama: FakeOllama) -> None:
    await use_ollama(ctx, fake_ollama)
    add_test_server(registry)
    fake_ollama.tool_script = ToolScript(rounds=[[("t__add", {"a": 2, "b": 40})], [("t__fail", {})]])
    events, _, asked = await run_loop(ctx, registry, LLAMA, ["t/*"])
    assert asked[0].spec is not None and asked[0].spec.name == "t/add"
    added, failed = results(events)
    assert added.result.text == "42" and not added.result.is_error
    assert failed.result.is_error and "fail" in failed.result.text  # the tool's own error, sent on
    assert "42" in answer(events)
    assert registry.statuses()[0].state is ServerState.RUNNING


async def test_one_megabyte_result_is_cut_for_the_model_only(
    ctx: AppContext, registry: ToolRegistry, fake_ollama: FakeOllama
) -> None:
    await use_ollama(ctx, fake_ollama)
    add_test_server(registry)
    fake_ollama.tool_script = ToolScript(rounds=[[("t__big", {})]])
    events, messages, _ = await run_loop(ctx, registry, LLAMA, ["t/big"], model_limit=4_000)
    (out,) = results(events)
    assert len(out.result.text) >= BIG_SIZE - 100  # whole, for the UI
    sent = fake_ollama.tool_script.seen[-1][-1]["content"]
    assert sent.startswith(out.result.text[:4_000]) and len(sent) < 4_200
    assert "more characters of the tool's result were left out" in sent
    assert messages[-1].content == sent


async def test_hanging_tool_times_out_and_the_chat_goes_on(
    ctx: AppContext, registry: ToolRegistry, fake_ollama: FakeOllama
) -> None:
    await use_ollama(ctx, fake_ollama)
    add_test_server(registry)
    fake_ollama.tool_script = ToolScript(rounds=[[("t__hang", {})], [("t__add", {"a": 1, "b": 1})]])
    events, _, _ = await run_loop(ctx, registry, LLAMA, ["t/*"], timeout=1.0)
    hung, added = results(events)
    assert hung.result.is_error and "did not answer within 1 s" in hung.result.text
    assert added.result.text == "2"  # the server was restarted for the next call


async def test_crashing_server_is_marked_with_its_stderr(
    ctx: AppContext, registry: ToolRegistry, fake_ollama: FakeOllama
) -> None:
    await use_ollama(ctx, fake_ollama)
    add_test_server(registry)
    fake_ollama.tool_script = ToolScript(rounds=[[("t__crash", {})]])
    events, _, _ = await run_loop(ctx, registry, LLAMA, ["t/crash"])
    (out,) = results(events)
    assert out.result.is_error and "crashed on purpose" in out.result.text
    (status,) = registry.statuses()
    assert status.state is ServerState.FAILED and status.error and "crashed on purpose" in status.error


async def test_server_that_fails_to_start_says_why(registry: ToolRegistry) -> None:
    add_test_server(registry, "broken", "--crash-on-start")
    from desktop_app.adapters.mcp import ToolServerError

    with pytest.raises(ToolServerError) as caught:
        await registry.resolve(["broken/*"])
    assert "broken did not start" in caught.value.message
    assert "cannot open the database" in caught.value.message
    assert registry.statuses()[0].state is ServerState.FAILED


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def http_server() -> Iterator[tuple[str, str]]:
    port, token = _free_port(), "test-token-123"
    proc = subprocess.Popen([*SERVER, "--http", str(port), "--token", token], cwd=ROOT)
    url = f"http://127.0.0.1:{port}/mcp"
    try:
        for _ in range(200):
            try:
                httpx.get(url, timeout=0.5)
                break
            except httpx.HTTPError:
                time.sleep(0.05)
        yield url, token
    finally:
        proc.terminate()
        proc.wait(10)


async def test_streamable_http_server_with_a_token(
    ctx: AppContext, registry: ToolRegistry, http_server: tuple[str, str]
) -> None:
    url, token = http_server
    registry.add_server(McpServerConfig(name="web", url=url), token=token)
    assert token not in (ctx.home / "tools.json").read_text()
    tools = await registry.resolve(["web/add"])
    result = await registry.run(tools[0], {"a": 20, "b": 22})
    assert result.text == "42"


async def test_streamable_http_without_the_token_is_refused(
    registry: ToolRegistry, http_server: tuple[str, str]
) -> None:
    url, _ = http_server
    registry.add_server(McpServerConfig(name="web", url=url))
    from desktop_app.adapters.mcp import ToolServerError

    with pytest.raises(ToolServerError, match="web did not start"):
        await registry.resolve(["web/*"])


async def test_a_start_that_fails_says_what_is_wrong(registry: ToolRegistry, tmp_path: Path) -> None:
    """`tools test` and the window's Test say why in the user's terms, not the SDK's."""
    from desktop_app.adapters.mcp import ToolServerError

    cases = [
        (
            McpServerConfig(name="nf", command="no-such-mcp-server-9"),
            "nf did not start: the command 'no-such-mcp-server-9' was not found; install it, or give its full path.",
        ),
        (
            McpServerConfig(name="cwd", command=SERVER[0], cwd=str(tmp_path / "gone")),
            f"cwd did not start: its working folder {tmp_path / 'gone'} does not exist.",
        ),
        (
            McpServerConfig(
                name="ex", command=SERVER[0], args=[*SERVER[1:], "--crash-on-start"], cwd=str(ROOT)
            ),
            "ex did not start: the server exited before it answered.\n--- its stderr (last lines) ---\nstarting…",
        ),
        (
            McpServerConfig(name="down", url=f"http://127.0.0.1:{_free_port()}/mcp"),
            "down did not start: cannot connect to http://127.0.0.1:",
        ),
    ]
    for config, expected in cases:
        with pytest.raises(ToolServerError) as caught:
            await registry.try_server(config)
        assert caught.value.message.startswith(expected), caught.value.message


async def test_http_401_is_named(registry: ToolRegistry, http_server: tuple[str, str]) -> None:
    from desktop_app.adapters.mcp import ToolServerError

    url, token = http_server
    config = McpServerConfig(name="web", url=url)
    with pytest.raises(
        ToolServerError, match="web did not start: the server answered HTTP 401 Unauthorized: its token"
    ):
        await registry.try_server(config, token="wrong")
    assert [t.name for t in await registry.try_server(config, token=token)][:2] == ["web/add", "web/echo"]


async def test_save_server_forgets_the_secrets_a_new_definition_drops(
    ctx: AppContext, registry: ToolRegistry
) -> None:
    registry.save_server(McpServerConfig(name="s", url="https://example.com/mcp"), token="tok1")
    assert ctx.keys.get("mcp:s") == "tok1"
    registry.save_server(McpServerConfig(name="s", url="https://example.com/v2/mcp"))  # None: keep it
    assert ctx.keys.get("mcp:s") == "tok1" and registry.has_token("s")
    registry.save_server(McpServerConfig(name="s", command="npx", env={"A_KEY": "k", "B_TOKEN": "t"}))
    assert ctx.keys.get("mcp:s") is None, "no longer HTTP: its token is forgotten"
    assert ctx.keys.get("mcp:s:env:A_KEY") == "k" and ctx.keys.get("mcp:s:env:B_TOKEN") == "t"
    registry.save_server(McpServerConfig(name="s", command="npx", secret_env=["A_KEY"]))
    assert ctx.keys.get("mcp:s:env:A_KEY") == "k" and ctx.keys.get("mcp:s:env:B_TOKEN") is None
    with pytest.raises(InvalidInput, match="no command and no URL"):
        registry.save_server(McpServerConfig(name="s"))


async def test_reload_stops_a_server_whose_definition_or_secret_changed(
    ctx: AppContext, registry: ToolRegistry
) -> None:
    add_test_server(registry)
    await registry.resolve(["t/*"])
    first = registry.server("t")
    assert first.state is ServerState.RUNNING
    registry.reload()
    assert registry.server("t") is first, "nothing changed: the running server stays"
    other = ToolRegistry.open(ctx)  # the window's dialog, or the CLI
    other.save_server(other.config.server("t").model_copy(update={"env": {"X_TOKEN": "new"}}))
    registry.reload()
    assert first.state is ServerState.STOPPED
    await registry.resolve(["t/*"])
    second = registry.server("t")
    assert second is not first and second.state is ServerState.RUNNING
    ctx.keys.set("mcp:t:env:X_TOKEN", "newer")  # only the secret changed
    registry.reload()
    assert second.state is ServerState.STOPPED and registry.server("t") is not second
