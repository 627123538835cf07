"""Ollama takes a bare JSON schema as ``format``: the adapter unwraps a .prompt.yml jsonSchema itself (the
evaluation runner used to do it by testing the source's kind)."""

from __future__ import annotations

from desktop_app.adapters.ollama import _format

SCHEMA = {"type": "object", "properties": {"answer": {"type": "string"}}, "required": ["answer"]}


def test_a_named_schema_is_sent_bare_and_a_bare_one_as_is() -> None:
    assert _format({"name": "reply", "strict": True, "schema": SCHEMA}) == SCHEMA
    assert _format(SCHEMA) == SCHEMA
    assert _format("json") == "json" and _format("text") is None and _format(None) is None
