"""Suites are read as gh's yaml.v3 reads YAML, and hostile YAML (billion laughs, deep nesting,
duplicate keys) is refused with an error naming the file."""

from __future__ import annotations

import textwrap

import pytest

from desktop_app.core.errors import SuiteError
from desktop_app.core.suite_parse import parse_suite


def parse(text: str, file: str = "t.prompt.yml"):  # type: ignore[no-untyped-def]
    return parse_suite(textwrap.dedent(text), file=file)


# ------------------------------------------------------------------------------------------ as gh reads YAML
def test_yaml_is_read_as_yaml_v3_reads_it() -> None:
    """YAML 1.2 core schema (gh's yaml.v3): no base-60 numbers, ``=`` is text, merges override."""
    suite = parse(
        """
        messages: [{role: user, content: "{{t}} {{ratio}} {{eq}}"}]
        base: &base
          input: hello
          expected: hi
        testData:
          - t: 10:30
            ratio: 16:9
            eq: =
            hex: 0x1F
            octal: 0o17
            old_octal: 017
            big: 1_000
            f: 1.5e3
            inf: -.inf
            no: no
            date: 2024-01-02
            nothing: ~
          - <<: *base
            expected: overridden
            t: x
            ratio: y
            eq: z
        """
    )
    row = suite.test_data[0]
    assert row["t"] == "10:30" and row["ratio"] == "16:9" and row["eq"] == "="
    assert (row["hex"], row["octal"], row["old_octal"], row["big"]) == (31, 15, 15, 1000)
    assert row["f"] == 1500.0 and row["inf"] == float("-inf")
    assert row["no"] == "no" and row["date"] == "2024-01-02" and row["nothing"] is None
    assert suite.test_data[1] == {
        "input": "hello",
        "expected": "overridden",
        "t": "x",
        "ratio": "y",
        "eq": "z",
    }
    assert suite.render_messages(row)[0].content == "10:30 16:9 ="


def test_real_duplicate_keys_are_still_refused_next_to_a_merge() -> None:
    with pytest.raises(SuiteError, match=r"duplicate key 'expected' \(first given on line 6\)"):
        parse(
            """
            messages: [{role: user, content: hi}]
            base: &base {input: a}
            testData:
              - <<: *base
                expected: one
                expected: two
            """
        )


def test_billion_laughs_is_refused_naming_the_file() -> None:
    lines = ["a0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]"]
    for n in range(1, 10):
        prev = f"*a{n - 1}"
        lines.append(f"a{n}: &a{n} [{', '.join([prev] * 9)}]")
    text = "messages: [{role: user, content: hi}]\n" + "\n".join(lines) + "\n"
    with pytest.raises(SuiteError, match=r"^bomb\.prompt\.yml: .*more than 500,000 YAML nodes"):
        parse_suite(text, file="bomb.prompt.yml")


def test_a_billion_laughs_hidden_deep_down_is_refused_too() -> None:
    entries = ["a0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]"]
    for n in range(1, 10):
        entries.append(f"a{n}: &a{n} [{', '.join([f'*a{n - 1}'] * 9)}]")
    deep = "[" * 80 + "{" + ", ".join(entries) + "}" + "]" * 80
    text = f"messages: [{{role: user, content: hi}}]\nx: {deep}\n"
    with pytest.raises(SuiteError, match="more than 500,000 YAML nodes"):
        parse_suite(text, file="b.prompt.yml")


def test_nesting_too_deep_is_a_suite_error() -> None:
    text = "messages: [{role: user, content: hi}]\nx: " + "[" * 20000 + "]" * 20000 + "\n"
    with pytest.raises(SuiteError, match=r"^deep\.prompt\.yml: .*nested too deeply"):
        parse_suite(text, file="deep.prompt.yml")
