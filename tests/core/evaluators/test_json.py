"""The json evaluator: valid JSON, code fences, schemas."""

from __future__ import annotations

from desktop_app.core.evaluators.json import JsonCheck, check_json


def test_json_valid_and_invalid() -> None:
    ok = check_json("j", JsonCheck(), '{"a": 1}')
    assert ok.passed and ok.details == "Valid JSON"
    bad = check_json("j", JsonCheck(), '{"a": 1,}')
    assert not bad.passed
    assert (
        bad.details == "Not valid JSON: Expecting property name enclosed in double quotes at line 1 column 9"
    )
    assert not check_json("j", JsonCheck(), "Sure! Here it is: {}").passed


def test_json_in_a_code_fence_unless_strict() -> None:
    fenced = '```json\n{"a": [1, 2]}\n```'
    result = check_json("j", JsonCheck(), fenced)
    assert result.passed and result.details == "Valid JSON (inside a code fence)"
    assert not check_json("j", JsonCheck(strict=True), fenced).passed


def test_json_schema() -> None:
    schema = {
        "type": "object",
        "required": ["country", "capital"],
        "properties": {"country": {"type": "string"}, "capital": {"type": "string"}},
    }
    check = JsonCheck(json_schema=schema)
    assert check_json("j", check, '{"country": "France", "capital": "Paris"}').passed
    missing = check_json("j", check, '{"country": "France"}')
    assert not missing.passed
    assert missing.details == "Valid JSON but not the schema: 'capital' is a required property at $"
    wrong = check_json("j", check, '{"country": "France", "capital": 7}')
    assert wrong.details == "Valid JSON but not the schema: 7 is not of type 'string' at $.capital"
