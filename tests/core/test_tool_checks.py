"""The tool_call evaluator, a suite's tools: list, the mcpServers import and the calculator."""

from __future__ import annotations

import textwrap

import pytest

from desktop_app.adapters.tools_builtin import CalcError, calculate, run_builtin
from desktop_app.core.chat import ToolCall
from desktop_app.core.errors import InvalidInput, SuiteError
from desktop_app.core.evaluators.tool_call import match_tool_calls, parse_tool_call_check
from desktop_app.core.suite_dump import dump_suite
from desktop_app.core.suite_parse import parse_suite
from desktop_app.core.tools import parse_mcp_servers, select_tools, truncate_for_model, wire_name

CALC = ToolCall(id="call_1", name="calculator", arguments={"expression": "2^31 * 3", "precise": True})


def check(raw: dict, calls: list[ToolCall], variables: dict | None = None) -> tuple[bool, str]:
    return match_tool_calls(parse_tool_call_check(raw), calls, variables or {})


@pytest.mark.parametrize(
    ("raw", "passed"),
    [
        ({"name": "calculator"}, True),
        ({"name": "current_time"}, False),
        ({"name": "calculator", "arguments": {"expression": "2^31 * 3"}}, True),  # exact value
        ({"name": "calculator", "arguments": {"expression": "2**31*3"}}, False),
        ({"name": "calculator", "arguments": {"expression": {"regex": r"2\s*(\^|\*\*)\s*31"}}}, True),
        ({"name": "calculator", "arguments": {"expression": {"regex": r"^3"}}}, False),
        (
            {
                "name": "calculator",
                "arguments": {"expression": {"schema": {"type": "string", "minLength": 3}}},
            },
            True,
        ),
        ({"name": "calculator", "arguments": {"expression": {"schema": {"type": "number"}}}}, False),
        ({"name": "calculator", "arguments": {"precise": True}}, True),
        ({"name": "calculator", "arguments": {"precise": 1}}, False),  # a boolean is not a number
        ({"name": "calculator", "arguments": {"expression": "2^31 * 3"}, "strict": True}, False),  # extra arg
        ({"name": "calculator", "arguments": {"missing": 1}}, False),
        ({"none": True}, False),
    ],
)
def test_tool_call_matching(raw: dict, passed: bool) -> None:
    assert check(raw, [CALC])[0] is passed


def test_tool_call_details_say_what_was_called_and_why_not() -> None:
    ok, details = check({"name": "calculator", "arguments": {"expression": {"regex": "^3"}}}, [CALC])
    assert not ok and "does not match /^3/" in details
    ok, details = check({"name": "current_time"}, [CALC])
    assert not ok and details.startswith("expected current_time; called calculator(")
    assert check({"name": "calculator"}, []) == (False, "no tool was called (expected calculator)")


def test_templates_numbers_and_an_empty_name() -> None:
    call = ToolCall(name="convert_units", arguments={"value": 26.2, "from_unit": "mi"})
    raw = {"name": "{{tool}}", "arguments": {"value": "{{value}}", "from_unit": "{{unit}}"}}
    assert check(raw, [call], {"tool": "convert_units", "value": 26.2, "unit": "mi"})[0]
    assert check({"name": "{{tool}}"}, [], {"tool": ""}) == (True, "no tool was called")
    assert not check({"name": "{{tool}}"}, [call], {"tool": ""})[0]
    assert check({"name": "x", "arguments": {"n": 2}}, [ToolCall(name="x", arguments={"n": 2.0})])[0]


SUITE = textwrap.dedent(
    """\
    name: t
    messages:
      - role: user
        content: "{{q}}"
    testData:
      - q: hi
    tools:
      - calculator
      - type: function
        function:
          name: get_weather
          parameters: {type: object, properties: {city: {type: string}}}
    evaluators:
      - name: calc
        tool_call:
          name: calculator
          arguments: {expression: {regex: "31"}}
    """
)


def test_suite_tools_and_tool_call_round_trip() -> None:
    suite = parse_suite(SUITE, file="t.prompt.yml")
    assert suite.warnings == []
    assert suite.tools[0] == "calculator" and suite.tools[1]["function"]["name"] == "get_weather"
    again = parse_suite(dump_suite(suite))
    assert again.content_hash() == suite.content_hash() and again.evaluators == suite.evaluators


@pytest.mark.parametrize(
    ("fragment", "key", "message"),
    [
        (
            "    tool_call: {name: calc, arguments: {x: {regex: '('}}}",
            "arguments.x.regex",
            "invalid regular expression",
        ),
        ("    tool_call: {arguments: {x: 1}}", "name", "expected tool's name"),
        ("    tool_call: {name: calc, strict: maybe}", "strict", "true or false"),
        ("    tool_call: {name: calc, extra: 1}", "extra", "unknown key"),
        ("    tool_call: {none: true, name: calc}", "none", "takes no name"),
        (
            "    tool_call: {name: calc, arguments: {x: {schema: {type: bogus}}}}",
            "schema",
            "invalid JSON Schema",
        ),
    ],
)
def test_malformed_tool_call_names_the_key(fragment: str, key: str, message: str) -> None:
    text = "messages:\n  - role: user\n    content: hi\nevaluators:\n  - name: e\n" + fragment + "\n"
    with pytest.raises(SuiteError) as caught:
        parse_suite(text, file="f.prompt.yml")
    assert key in str(caught.value) and message in str(caught.value)


def test_malformed_inline_tool() -> None:
    text = "messages:\n  - role: user\n    content: hi\ntools:\n  - type: function\n    function: {name: 'bad name'}\n"
    with pytest.raises(SuiteError, match="tools"):
        parse_suite(text, file="f.prompt.yml")


def test_a_gh_file_is_unchanged_by_the_tools_keys() -> None:
    gh = "name: x\nmodel: openai/gpt-4o\nmessages:\n  - role: user\n    content: hi\nevaluators:\n  - name: s\n    string: {contains: hi}\n"
    suite = parse_suite(gh)
    assert suite.tools == [] and "tools" not in suite.to_dict()


# ------------------------------------------------------------------------------------------ mcpServers
def test_parse_mcp_servers_file() -> None:
    servers = parse_mcp_servers(
        {
            "mcpServers": {
                "fs": {"command": "npx", "args": ["-y", "server-fs", "/tmp"], "env": {"A": "1"}},
                "web": {"url": "https://example.com/mcp"},
                "off": {"command": "x", "disabled": True},
            }
        }
    )
    assert [(s.name, s.transport, s.enabled) for s in servers] == [
        ("fs", "stdio", True),
        ("web", "http", True),
        ("off", "stdio", False),
    ]
    assert servers[0].args == ["-y", "server-fs", "/tmp"] and servers[0].env == {"A": "1"}
    with pytest.raises(InvalidInput, match="url must be an http"):
        parse_mcp_servers({"mcpServers": {"w": {"url": "ftp://x"}}})


def test_select_and_wire_names() -> None:
    from desktop_app.adapters.tools_builtin import builtin_specs
    from desktop_app.core.tools import ToolSpec

    specs = [
        *builtin_specs(),
        ToolSpec(name="fs/read_file", provider="fs"),
        ToolSpec(name="fs/write", provider="fs"),
    ]
    assert [s.name for s in select_tools(specs, ["fs/*", "calculator"])] == [
        "fs/read_file",
        "fs/write",
        "calculator",
    ]
    assert wire_name("fs/read file") == "fs__read_file"
    with pytest.raises(InvalidInput, match="No tool matches 'nope'"):
        select_tools(specs, ["nope"])


def test_truncate_for_model_says_how_much_was_left_out() -> None:
    assert truncate_for_model("abc", 10) == "abc"
    cut = truncate_for_model("x" * 1000, 100)
    assert cut.startswith("x" * 100) and "900 more characters" in cut


# ------------------------------------------------------------------------------------------ calculator
@pytest.mark.parametrize(
    ("expression", "value"),
    [
        ("2^31 * 3", 6442450944),
        ("2**31*3", 6442450944),
        ("(1 + 2) * 3 - 4 / 2", 7.0),
        ("sqrt(1522756)", 1234.0),
        ("factorial(20)", 2432902008176640000),
        ("-3 % 5", 2),
        ("12345 × 6789", 83810205),
        ("round(pi, 3)", 3.142),
    ],
)
def test_calculator(expression: str, value: float) -> None:
    assert calculate(expression) == value


@pytest.mark.parametrize(
    ("expression", "message"),
    [
        ("__import__('os').system('id')", "not allowed"),
        ("open('/etc/passwd')", "unknown function 'open'"),
        ("(1).__class__", "not allowed"),
        ("[x for x in range(9)]", "not allowed"),
        ("9**9**9", "exponents are limited"),
        ("10**9999 * 10**9999 * 10**9999 * 10**9999 * 10**9999", "too large"),
        ("3**10000 * 3**10000 * 3**10000", "too large"),
        ("1/0", "division by zero"),
        ("1e308 * 10", "too large"),
        ("(-8) ** 0.5", "complex"),
        ("factorial(100000)", "factorial takes"),
        ("lambda: 1", "not allowed"),
        ("", "empty"),
        ("2 +", "not an arithmetic expression"),
    ],
)
def test_calculator_refuses(expression: str, message: str) -> None:
    with pytest.raises(CalcError, match=message):
        calculate(expression)


def test_builtin_errors_come_back_as_error_results() -> None:
    result = run_builtin("calculator", {"expression": "1/0"})
    assert result.is_error and "division by zero" in result.text
    assert run_builtin("convert_units", {"value": 26.2, "from_unit": "mi", "to_unit": "km"}).text.endswith(
        "42.1648 km"
    )
    assert run_builtin("convert_units", {"value": 212, "from_unit": "F", "to_unit": "C"}).text.endswith(
        "100 C"
    )
    assert run_builtin("convert_units", {"value": 1, "from_unit": "kg", "to_unit": "km"}).is_error
    assert "Asia/Tokyo" in run_builtin("current_time", {"timezone": "Tokyo"}).text
    assert run_builtin("current_time", {"timezone": "Mars/Olympus"}).is_error
