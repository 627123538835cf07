"""Evaluation suites in GitHub's ``.prompt.yml`` format, as ``gh models eval`` reads them, plus
ModelDesk's extensions kept in the same file under their own keys: the model.

GitHub's keys: ``name``, ``description``, ``model``, ``modelParameters`` (``maxTokens``, ``temperature``,
``topP``), ``responseFormat`` (``text`` | ``json_object`` | ``json_schema``), ``jsonSchema`` (a JSON
*string* with ``name`` and ``schema``), ``messages`` (``role`` + ``content`` with ``{{var}}``
templates), ``testData`` (a list of maps) and ``evaluators`` (see ``core/evaluators/``: gh's ``string``,
``llm`` and ``uses: github/<builtin>``, ModelDesk's ``regex``, ``json``, ``embedding_similarity`` and
``tool_call``). ModelDesk's top-level keys: ``models:`` (model ids to run) and ``tools:`` (tools to
offer). ``gh`` ignores keys it does not know, so an extended file still loads there.

Where the rest lives: reading a file is ``core/suite_parse.py`` (on top of ``core/suite_reader.py``,
the YAML reader), writing one ``core/suite_dump.py``, templating ``core/templating.py``.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any, Literal

from pydantic import BaseModel, Field, SerializeAsAny

from desktop_app.core.chat import ChatMessage, ChatOptions
from desktop_app.core.evaluators import EVALUATORS, Check, Evaluator, Helper
from desktop_app.core.templating import render_template

__all__ = ["SUITE_SUFFIXES", "EvaluatorSpec", "ModelParameters", "Suite", "SuiteMessage"]

SUITE_SUFFIXES = (".prompt.yml", ".prompt.yaml")


class ModelParameters(BaseModel):
    max_tokens: int | None = None
    temperature: float | None = None
    top_p: float | None = None

    def to_options(self) -> ChatOptions:
        return ChatOptions(max_tokens=self.max_tokens, temperature=self.temperature, top_p=self.top_p)

    def is_empty(self) -> bool:
        return self.max_tokens is None and self.temperature is None and self.top_p is None


class SuiteMessage(BaseModel):
    role: Literal["system", "user", "assistant"]
    content: str = ""


class EvaluatorSpec(BaseModel):
    """One entry of ``evaluators:``: its name and its settings (``check``, the model of the evaluator
    kind that read it; ``check.kind`` is the key of that kind in ``EVALUATORS``)."""

    name: str
    check: SerializeAsAny[Check]

    @property
    def kind(self) -> str:
        return self.check.kind

    @property
    def evaluator(self) -> Evaluator[Any]:
        return EVALUATORS[self.kind]

    def helper(self) -> Helper | None:
        """The model it needs to score (a judge, an embedding model), or None."""
        return self.evaluator.helper(self.check)

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, **self.evaluator.dump(self.check)}


class Suite(BaseModel):
    name: str = ""
    description: str = ""
    model: str = ""
    models: list[str] = Field(default_factory=list)
    model_parameters: ModelParameters = Field(default_factory=ModelParameters)
    response_format: Literal["text", "json_object", "json_schema"] | None = None
    json_schema: str | None = Field(default=None, description="gh's jsonSchema: a JSON string")
    messages: list[SuiteMessage] = Field(default_factory=list)
    test_data: list[dict[str, Any]] = Field(default_factory=list)
    evaluators: list[EvaluatorSpec] = Field(default_factory=list)
    tools: list[str | dict[str, Any]] = Field(
        default_factory=list, description="ModelDesk: registry tool names and inline functions to offer"
    )
    extra: dict[str, Any] = Field(
        default_factory=dict, description="unknown top-level keys, kept as they were"
    )
    path: str | None = Field(default=None, exclude=True)
    warnings: list[str] = Field(default_factory=list, exclude=True)

    # -- running
    def render_messages(self, variables: Mapping[str, Any]) -> list[ChatMessage]:
        return [
            ChatMessage(role=m.role, content=render_template(m.content, variables)) for m in self.messages
        ]

    def model_ids(self) -> list[str]:
        """The models the suite asks for: its ``models:`` list, else its ``model``."""
        if self.models:
            return list(self.models)
        return [self.model] if self.model else []

    def response_format_arg(self) -> str | dict[str, Any] | None:
        """The ``response_format`` to pass to a backend: ``"json"`` for json_object, the schema
        (a dict with ``name`` and ``schema``) for json_schema, None for text."""
        if self.response_format == "json_object":
            return "json"
        if self.response_format == "json_schema" and self.json_schema:
            parsed = json.loads(self.json_schema)
            return parsed if isinstance(parsed, dict) else None
        return None

    # -- identity
    def to_dict(self) -> dict[str, Any]:
        """The suite in file form (gh's key names, then ModelDesk's, then unknown keys)."""
        out: dict[str, Any] = {}
        if self.name:
            out["name"] = self.name
        if self.description:
            out["description"] = self.description
        if self.model:
            out["model"] = self.model
        if self.models:
            out["models"] = list(self.models)
        if not self.model_parameters.is_empty():
            mp: dict[str, Any] = {}
            if self.model_parameters.max_tokens is not None:
                mp["maxTokens"] = self.model_parameters.max_tokens
            if self.model_parameters.temperature is not None:
                mp["temperature"] = self.model_parameters.temperature
            if self.model_parameters.top_p is not None:
                mp["topP"] = self.model_parameters.top_p
            out["modelParameters"] = mp
        if self.response_format is not None:
            out["responseFormat"] = self.response_format
        if self.json_schema is not None:
            out["jsonSchema"] = self.json_schema
        out["messages"] = [{"role": m.role, "content": m.content} for m in self.messages]
        if self.test_data:
            out["testData"] = [dict(row) for row in self.test_data]
        if self.evaluators:
            out["evaluators"] = [e.to_dict() for e in self.evaluators]
        if self.tools:
            out["tools"] = list(self.tools)
        for key, value in self.extra.items():
            out.setdefault(key, value)
        return out

    def content_hash(self) -> str:
        """Stable hash of what the suite does (not of its formatting or comments)."""
        canonical = json.dumps(self.to_dict(), sort_keys=True, ensure_ascii=False, default=str)
        return hashlib.sha256(canonical.encode("utf-8")).hexdigest()[:16]
