"""Issue 17: a sync builds each plain ``/api/tags`` entry's stored row from pieces, without pydantic.

That row must be exactly the one the pydantic path stores (``stored_model`` of ``_unified``), byte for
byte: the registry's readers (``find``, ``list --json``, the window's ``from_json``) read it back as
that model, and a sync compares stored JSON texts to decide what changed. Entries the fast path cannot
take as they are (a field of another type) must go to the pydantic path instead (None here).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest
from pydantic import TypeAdapter

from desktop_app.adapters.ollama import OllamaBackend
from desktop_app.adapters.ollama_wire import TagsModel
from desktop_app.core.model_query import ModelFacts
from desktop_app.core.models import SourceConfig, SourceKind, UnifiedModel
from desktop_app.core.stored import StoredModel, stored_model
from desktop_app.store.registry import Registry, loads_models
from tests.fakes.ollama import make_catalogue, make_cloud_model, make_model

NOW = datetime(2026, 11, 30, 13, 0, 0, 123456, tzinfo=UTC)
NOW_JSON = json.dumps(TypeAdapter(datetime).dump_python(NOW, mode="json"))


def entry(fake: dict[str, Any], **changes: Any) -> dict[str, Any]:
    """The ``/api/tags`` entry of a fake model (as a v0.30+ server lists it), with changes."""
    out = {k: v for k, v in fake.items() if k in ("name", "model", "modified_at", "size", "digest")}
    out["details"] = dict(fake["details"])
    out["details"]["context_length"] = fake.get("context_length")
    out["capabilities"] = list(fake["capabilities"])
    for key in ("remote_model", "remote_host"):
        if fake.get(key):
            out[key] = fake[key]
    out.update(changes)
    return out


def without(d: dict[str, Any], *keys: str) -> dict[str, Any]:
    return {k: v for k, v in d.items() if k not in keys}


PLAIN = make_model("llama3.2:latest", ["completion", "tools"])
DETAILS = PLAIN["details"]

ENTRIES: dict[str, dict[str, Any]] = {
    "ordinary": entry(PLAIN),
    "embedding": entry(make_model("nomic-embed-text:latest", ["embedding"], "nomic-bert", "137M", "F16")),
    "vision, tools and thinking": entry(
        make_model("qwen3-vl:8b", ["completion", "vision", "tools", "thinking"], "qwen3vl", "8.8B")
    ),
    "cloud": entry(make_cloud_model("gpt-oss:120b-cloud")),
    "cloud by name only": entry(
        make_cloud_model("deepseek-v3.1:671b-cloud"), remote_model=None, remote_host=None
    ),
    "cloud on another host": entry(
        make_cloud_model("kimi-k2:1t-cloud"), remote_host="https://cloud.example.com:8443/v1"
    ),
    "cloud with a malformed host": entry(make_cloud_model("glm-4.6:cloud"), remote_host="http://[::1"),
    "cloud with a publisher in the name": entry(make_cloud_model("qwen/qwen3-coder:480b-cloud")),
    "no tag": entry(PLAIN, name="llama3", model="llama3"),
    "several colons": entry(PLAIN, name="a:b:c", model="a:b:c"),
    "no details": without(entry(PLAIN), "details"),
    "empty details": entry(PLAIN, details={}),
    "details null": entry(PLAIN, details=None),
    "no size, no digest": without(entry(PLAIN), "size", "digest"),
    "size 0": entry(PLAIN, size=0),
    "no context length": entry(PLAIN, details=without(DETAILS, "context_length")),
    "family only": entry(PLAIN, details={"family": "llama"}),
    "size only": entry(PLAIN, details={"parameter_size": "7B"}),
    "empty family": entry(PLAIN, details={**DETAILS, "family": ""}),
    "no capabilities listed (empty list)": entry(PLAIN, capabilities=[]),
    "capabilities in odd case, twice, blank": entry(
        PLAIN, capabilities=[" Completion", "completion", "TOOLS", ""]
    ),
    "an unknown capability": entry(PLAIN, capabilities=["completion", "audio", "telepathy"]),
    "unicode name": entry(PLAIN, name="模型-café😀:7b", model="模型-café😀:7b"),
    "quotes, backslashes and controls": entry(PLAIN, name='we"ird\\na\tme\n:1', model="x"),
    "unicode everywhere": entry(
        PLAIN,
        details={**DETAILS, "family": "ünï", "parameter_size": "7B\u2028", "quantization_level": "Q4\x7f"},
    ),
    "huge numbers": entry(PLAIN, size=10**30, details={**DETAILS, "context_length": 10**20}),
    "negative size": entry(PLAIN, size=-5),
    "unknown fields": entry(PLAIN, surprise={"nested": [1, 2]}, details={**DETAILS, "new_field": 3.5}),
}

# Entries pydantic coerces or refuses: the fast path must leave them to it.
SLOW: dict[str, dict[str, Any]] = {
    "capabilities missing": without(entry(PLAIN), "capabilities"),
    "size as a string": entry(PLAIN, size="2019393189"),
    "size as a bool": entry(PLAIN, size=True),
    "size as a float": entry(PLAIN, size=1.5),
    "family as a number": entry(PLAIN, details={**DETAILS, "family": 7}),
    "families as a string": entry(PLAIN, details={**DETAILS, "families": "llama"}),
    "families with a number": entry(PLAIN, details={**DETAILS, "families": ["llama", 1]}),
    "details as a list": entry(PLAIN, details=[]),
    "a capability that is not a string": entry(PLAIN, capabilities=["completion", 5]),
    "an unhashable capability": entry(PLAIN, capabilities=[["completion"]]),
    "digest as a number": entry(PLAIN, digest=123),
    "remote_host as a number": entry(make_cloud_model("gpt-oss:20b-cloud"), remote_host=5),
    "name missing": without(entry(PLAIN), "name"),
}


@pytest.fixture
def backend() -> OllamaBackend:
    return OllamaBackend(SourceConfig(name="gpu", kind=SourceKind.OLLAMA, base_url="http://127.0.0.1:11434"))


def pydantic_model(backend: OllamaBackend, e: dict[str, Any]) -> UnifiedModel:
    model = backend._unified(TagsModel.model_validate(e), None)
    return model.model_copy(update={"created_at": NOW, "updated_at": NOW})


@pytest.mark.parametrize("name", list(ENTRIES))
def test_a_fast_row_is_the_pydantic_row_byte_for_byte(backend: OllamaBackend, name: str) -> None:
    e = ENTRIES[name]
    fast = backend._fast_row(e, NOW_JSON)
    assert fast is not None, "this entry should take the fast path"
    want = pydantic_model(backend, e)
    assert isinstance(fast, StoredModel)
    assert fast == stored_model(want)  # every indexed column and the JSON text
    # and it reads back as that model, whichever reader reads it
    assert UnifiedModel.model_validate_json(fast.data) == want
    facts, reference = ModelFacts.from_json(fast.data), ModelFacts(want)
    assert [getattr(facts, k) for k in ModelFacts.__slots__ if not k.startswith("_")] == [
        getattr(reference, k) for k in ModelFacts.__slots__ if not k.startswith("_")
    ]


@pytest.mark.parametrize("name", list(SLOW))
def test_an_entry_of_another_type_is_left_to_pydantic(backend: OllamaBackend, name: str) -> None:
    assert backend._fast_row(SLOW[name], NOW_JSON) is None


def test_a_capability_set_seen_before_gives_the_same_row(backend: OllamaBackend) -> None:
    """Rows share their capability set's part (worked out once): the second use must not differ."""
    first = [backend._fast_row(entry(m), NOW_JSON) for m in make_catalogue(40)]
    again = [backend._fast_row(entry(m), NOW_JSON) for m in make_catalogue(40)]
    assert first == again
    assert first == [stored_model(pydantic_model(backend, entry(m))) for m in make_catalogue(40)]


def test_fast_rows_stored_read_back_as_their_models(backend: OllamaBackend, tmp_path: Any) -> None:
    registry = Registry(tmp_path / "registry.db")
    staging = registry.stage("gpu")
    rows = [backend._fast_row(e, NOW_JSON) for e in ENTRIES.values()]
    staging.add([r for r in rows if r is not None])
    want = {m.id: m for m in (pydantic_model(backend, e) for e in ENTRIES.values())}
    assert {m.id: m for m in registry.list_models()} == want  # the readers that validate
    assert {m.id: m for m in loads_models(registry.dump_json())} == want  # `list --json`
    assert registry.find("gpu/模型-café😀:7b") == want["gpu/模型-café😀:7b"]
    staging.drop()
    registry.close()
