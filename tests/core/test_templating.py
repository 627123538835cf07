"""gh's {{var}} templating: hand-worked cases, numbers as gh prints them, and properties."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from desktop_app.core.templating import format_value, placeholders, render_template


# ------------------------------------------------------------------------------------------ templating
def test_render_template_hand_worked() -> None:
    assert render_template("Hi {{name}}, bye {{name}}!", {"name": "Ann"}) == "Hi Ann, bye Ann!"
    assert render_template("{{a}}{{ab}}", {"a": "1", "ab": "2"}) == "12"
    assert render_template("{{{a}}}", {"a": "x"}) == "{x}"
    # gh replaces only the exact {{key}}: spaces or unknown names stay as written
    assert render_template("{{ name }} {{other}}", {"name": "Ann"}) == "{{ name }} {{other}}"
    # one pass: a value containing a placeholder is not expanded again
    assert render_template("{{a}}/{{b}}", {"a": "{{b}}", "b": "B"}) == "{{b}}/B"
    assert render_template("no placeholders", {"a": 1}) == "no placeholders"
    assert render_template(
        "{{n}} {{f}} {{t}} {{z}} {{l}}", {"n": 3, "f": 1.5, "t": True, "z": None, "l": [1, "a"]}
    ) == ('3 1.5 true  [1, "a"]')


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (1.0, "1"),
        (100.0, "100"),
        (123456.0, "123456"),
        (1e6, "1e+06"),
        (1234567.0, "1.234567e+06"),
        (0.0001, "0.0001"),
        (0.00001, "1e-05"),
        (-2.5e-7, "-2.5e-07"),
        (0.1, "0.1"),
        (False, "false"),
        (7, "7"),
    ],
)
def test_numbers_are_formatted_as_gh_prints_them(value: object, text: str) -> None:
    assert format_value(value) == text


_keys = st.text(
    alphabet=st.characters(categories=["L", "N"]) | st.sampled_from("_-."), min_size=1, max_size=8
)
_literal = st.text(alphabet=st.characters(exclude_characters="{}"), max_size=12)


@settings(max_examples=150, deadline=None)
@given(
    variables=st.dictionaries(_keys, st.text(max_size=12), min_size=1, max_size=5),
    pieces=st.lists(st.tuples(_literal, st.integers(min_value=0, max_value=10)), max_size=8),
)
def test_templating_property(variables: dict[str, str], pieces: list[tuple[str, int]]) -> None:
    """A template made of brace-free text and placeholders renders to the text with each known
    placeholder replaced by its value, whatever the values contain."""
    keys = sorted(variables)
    template, expected = "", ""
    for literal, k in pieces:
        template += literal
        expected += literal
        if k < len(keys):
            template += "{{" + keys[k] + "}}"
            expected += variables[keys[k]]
        else:
            template += "{{unknown_" + str(k) + "}}"
            expected += "{{unknown_" + str(k) + "}}"
    assert render_template(template, variables) == expected


@settings(max_examples=100, deadline=None)
@given(st.text(max_size=40))
def test_templating_without_variables_is_identity(text: str) -> None:
    assert render_template(text, {}) == text
    assert render_template(text, {"k": "v"}) == text.replace("{{k}}", "v")


def test_placeholders_lists_names_once_in_order() -> None:
    assert placeholders("{{b}} {{a}} {{b}} {{ c }}") == ["b", "a", " c "]
