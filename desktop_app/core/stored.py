"""A model as the registry stores it: its indexed columns and its ``UnifiedModel`` JSON, as one tuple.

Two ways build one. ``stored_model`` takes a ``UnifiedModel`` (the ordinary path, pydantic's JSON);
a sync of a big Ollama host builds the same tuple straight from the listing's entries, the JSON
assembled from pieces (``json_str`` …) without a pydantic model or a dict per model — 100,000 models
in a fraction of the time. Both must give the same text, byte for byte: a model stored one way and
compared with the other (a sync writes only models whose JSON changed) must not look changed. The
tests compare the two for every kind of entry.
"""

from __future__ import annotations

from collections.abc import Iterable
from json.encoder import encode_basestring
from typing import TYPE_CHECKING, NamedTuple

if TYPE_CHECKING:
    from desktop_app.core.models import UnifiedModel

__all__ = [
    "StoredModel",
    "json_int",
    "json_opt_str",
    "json_str",
    "json_str_list",
    "marks",
    "search_text",
    "stored_model",
]

# JSON of a str exactly as pydantic writes it (UTF-8 kept, the same escapes): json's C encoder.
json_str = encode_basestring


class StoredModel(NamedTuple):
    """One registry row, in the registry's column order (the store checks that it matches)."""

    id: str
    provider: str
    model_type: str
    serving_type: str
    category: str
    categories: str  # ",text,reasoning,": one LIKE finds a category
    capabilities: str  # ",completion,tools,"
    status: str
    name: str
    parent_id: str  # "" for none
    search: str  # lower-case words a search matches
    data: str  # the UnifiedModel as JSON (UnifiedModel.model_dump_json())


def json_int(value: int | None) -> str:
    return "null" if value is None else str(value)


def json_opt_str(value: str | None) -> str:
    return "null" if value is None else encode_basestring(value)


def json_str_list(values: Iterable[str]) -> str:
    return "[" + ",".join(encode_basestring(v) for v in values) + "]"


def marks(values: Iterable[str]) -> str:
    """``,a,b,``: a list column one ``LIKE '%,a,%'`` searches."""
    return "," + ",".join(values) + ","


def search_text(
    model_id: str,
    name: str,
    description: str,
    family: str | None,
    publisher: str | None,
    tags: Iterable[str],
) -> str:
    """What a search matches: id, name, description, family, publisher and tags, lower case."""
    return " ".join(
        x for x in (model_id, name, description, family or "", publisher or "", " ".join(tags)) if x
    ).lower()


def stored_model(m: UnifiedModel) -> StoredModel:
    """The row of a ``UnifiedModel`` (pydantic's JSON)."""
    return StoredModel(
        m.id,
        m.provider,
        m.model_type.value,
        m.serving_type.value,
        m.category.value,
        marks(c.value for c in m.categories),
        marks(m.capabilities),
        m.status.value,
        m.name,
        m.parent_id or "",
        search_text(m.id, m.name, m.description, m.family, m.publisher, m.tags),
        m.model_dump_json(),
    )
