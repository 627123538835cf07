"""Evaluating function calling: the bundled tool-calling suite and inline tools against the fakes, and the
refusal to start an MCP server a suite names unless the run allows it."""

from __future__ import annotations

import sys
import textwrap
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from desktop_app.core.errors import InvalidInput
from desktop_app.core.evaluation import RunStatus
from desktop_app.core.models import SourceConfig, SourceKind
from desktop_app.core.suite_parse import parse_suite
from desktop_app.core.tools import McpServerConfig
from desktop_app.services.context import AppContext
from desktop_app.services.evaluate import EvaluationRunner
from desktop_app.services.suite_files import load_suite
from desktop_app.services.sync import sync_source
from desktop_app.services.tools import ToolRegistry
from tests.fakes.ollama import FakeOllama
from tests.fakes.openai_compat import FakeOpenAIServer
from tests.fakes.tool_script import ToolScript

ROOT = Path(__file__).resolve().parents[2]
LLAMA = "ollama/llama3.2:latest"


@pytest.fixture
async def ctx() -> AsyncIterator[AppContext]:
    context = AppContext.open()
    yield context
    await context.aclose()
    context.close()


async def use_source(ctx: AppContext, config: SourceConfig) -> None:
    ctx.settings.sources = [*ctx.settings.sources, config]
    ctx.save_settings()
    assert (await sync_source(ctx, config)).ok


class _ByQuestion(ToolScript):
    """A model that calls the calculator for arithmetic, converts units for conversions, and answers
    everything else (and every second turn) in text."""

    def plan(self, messages, tools):  # type: ignore[no-untyped-def]
        question = next(m["content"] for m in messages if m.get("role") == "user")
        if "2^31" in question:
            self.rounds = [[("calculator", {"expression": "2^31 * 3"})]]
        elif "miles" in question:
            self.rounds = [[("calculator", {"expression": "26.2 * 1.609"})]]  # the wrong tool
        else:
            self.rounds = []
        return super().plan(messages, tools)


async def test_bundled_suite_ranks_the_tool_calls(ctx: AppContext, fake_ollama: FakeOllama) -> None:
    ctx.settings.sources = []
    await use_source(ctx, SourceConfig(name="ollama", kind=SourceKind.OLLAMA, base_url=fake_ollama.url))
    fake_ollama.tool_script = _ByQuestion(rounds=[])
    suite = load_suite(ROOT / "resources" / "suites" / "tool-calling.prompt.yml")
    run = await EvaluationRunner(ctx, suite, [LLAMA]).run()
    assert run.status is RunStatus.COMPLETE
    cases = {c.test_case["question"]: c for c in run.results_for(LLAMA)}
    calc = cases["What is 2^31 times 3?"]
    assert [e.passed for e in calc.evaluations] == [True, True], calc.evaluations
    assert calc.tool_calls[0].name == "calculator" and "6442450944" in calc.output
    miles = cases["How many kilometres are 26.2 miles?"]
    assert (
        not miles.evaluations[0].passed
        and "expected convert_units; called calculator" in miles.evaluations[0].details
    )
    france = cases["What is the capital of France?"]
    assert france.evaluations[0].passed and france.tool_calls == []
    tokyo = cases["What time is it in Tokyo right now?"]
    assert tokyo.evaluations[0].details == "no tool was called (expected current_time)"
    stats = run.stats(LLAMA)
    assert stats.total == 10 and 0 < stats.passed < 10


async def test_inline_tools_over_openai_are_declared_not_run(
    ctx: AppContext, fake_openai: FakeOpenAIServer
) -> None:
    assert fake_openai.api_key
    ctx.keys.set("oa", fake_openai.api_key)
    await use_source(ctx, SourceConfig(name="oa", kind=SourceKind.OPENAI_COMPAT, base_url=fake_openai.url))
    fake_openai.tool_script = ToolScript(rounds=[[("get_weather", {"city": "Paris", "unit": "celsius"})]])
    suite = parse_suite(
        textwrap.dedent(
            """\
            name: weather
            messages:
              - role: user
                content: "Weather in {{city}}?"
            testData:
              - city: Paris
            tools:
              - type: function
                function:
                  name: get_weather
                  description: Current weather
                  parameters: {type: object, properties: {city: {type: string}, unit: {enum: [celsius, fahrenheit]}}, required: [city]}
            evaluators:
              - name: city
                tool_call: {name: get_weather, arguments: {city: "{{city}}", unit: {schema: {enum: [celsius, fahrenheit]}}}}
              - name: strict
                tool_call: {name: get_weather, arguments: {city: Paris}, strict: true}
            """
        )
    )
    run = await EvaluationRunner(ctx, suite, ["oa/gpt-4o-mini"]).run()
    (case,) = run.results_for("oa/gpt-4o-mini")
    assert case.error is None
    assert [e.passed for e in case.evaluations] == [True, False]
    assert case.output == 'get_weather(city="Paris", unit="celsius")'
    sent = fake_openai.tool_script.seen
    assert len(sent) == 1  # declared only: no second round


async def test_mcp_tools_in_a_suite_need_allow_tools(ctx: AppContext, fake_ollama: FakeOllama) -> None:
    ctx.settings.sources = []
    await use_source(ctx, SourceConfig(name="ollama", kind=SourceKind.OLLAMA, base_url=fake_ollama.url))
    registry = ToolRegistry.open(ctx)
    registry.add_server(
        McpServerConfig(
            name="t", command=sys.executable, args=["-m", "tests.fakes.mcp_server"], cwd=str(ROOT)
        )
    )
    suite = parse_suite(
        "messages:\n  - role: user\n    content: add 2 and 40\ntestData:\n  - x: 1\ntools: [t/add]\n"
        "evaluators:\n  - name: add\n    tool_call: {name: t/add, arguments: {a: 2, b: 40}}\n"
        "  - name: answer\n    string: {contains: '42'}\n"
    )
    with pytest.raises(InvalidInput, match="--allow-tools"):
        await EvaluationRunner(ctx, suite, [LLAMA]).run()
    fake_ollama.tool_script = ToolScript(rounds=[[("t__add", {"a": 2, "b": 40})]])
    run = await EvaluationRunner(ctx, suite, [LLAMA], allow_tools=True).run()
    (case,) = run.results_for(LLAMA)
    assert [e.passed for e in case.evaluations] == [True, True], case.evaluations
