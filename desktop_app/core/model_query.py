"""How a list of models is shown and filtered, once for the window and the Gradio app.

The window's tree and the browser app both list models by category with a LOCAL / REMOTE /
EXPERIMENTAL badge, and filter them by search words, capability chips (all of them must match) and
an All / Local / Remote switch. Both build a :class:`ModelFacts` per model and ask a
:class:`ModelQuery` for its predicate, so a search finds the same models in both places.

No pydantic at import: a ``ModelFacts`` is made straight from the registry's stored JSON (10,000 of
them at start-up), and the ``UnifiedModel`` is validated only when someone asks for ``model``.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from enum import StrEnum
from itertools import compress, repeat
from operator import attrgetter, contains, eq, or_
from typing import TYPE_CHECKING, Any, Self, TypeVar

from desktop_app.core.enums import Category, ModelStatus, ModelType, ServingType

if TYPE_CHECKING:
    from desktop_app.core.models import UnifiedModel

__all__ = [
    "BADGE_EXPERIMENTAL",
    "BADGE_LOCAL",
    "BADGE_REMOTE",
    "CAPABILITY_CHIPS",
    "CATEGORY_LABELS",
    "CATEGORY_ORDER",
    "ModelFacts",
    "ModelQuery",
    "Serving",
    "badge_for",
]

CATEGORY_ORDER: tuple[Category, ...] = tuple(Category)

CATEGORY_LABELS: dict[Category, str] = {
    Category.EMBEDDING: "Embedding",
    Category.MULTIMODAL: "Multimodal",
    Category.FUNCTION_CALLING: "Function calling",
    Category.REASONING: "Reasoning",
    Category.TEXT: "Text",
    Category.CLOUD_TEXT: "Cloud · text",
    Category.CLOUD_CODE: "Cloud · code",
    Category.CLOUD_MULTIMODAL: "Cloud · multimodal",
    Category.CLOUD_GENERAL: "Cloud · general",
    Category.EXPERIMENTAL: "Experimental",
}

# Capability filters: (capability in Ollama's vocabulary, label, tooltip).
CAPABILITY_CHIPS: tuple[tuple[str, str, str], ...] = (
    ("embedding", "Embedding", "Models that turn text into vectors (for search and similarity)"),
    ("vision", "Vision", "Models that accept images"),
    ("tools", "Tools", "Models that can call functions / tools"),
    ("thinking", "Thinking", "Models that reason step by step before answering"),
)

BADGE_LOCAL, BADGE_REMOTE, BADGE_EXPERIMENTAL = "LOCAL", "REMOTE", "EXPERIMENTAL"


def badge_for(model_type: str, serving_type: str) -> str:
    """EXPERIMENTAL for variants and experimental models, else where the model runs. Hybrid models
    (Ollama cloud models: listed by a local daemon, run on ollama.com) are REMOTE: the badge says where
    the work happens and whether requests leave the machine."""
    if model_type != ModelType.BASE:
        return BADGE_EXPERIMENTAL
    return BADGE_REMOTE if serving_type in (ServingType.REMOTE, ServingType.HYBRID) else BADGE_LOCAL


class Serving(StrEnum):
    ALL = "all"
    LOCAL = "local"
    REMOTE = "remote"


class _Kind:
    """What a model's kind decides (shared by every model of that kind; see ``ModelFacts._fill``)."""

    __slots__ = ("badge", "capabilities", "categories", "haystack", "local", "remote", "text")

    def __init__(
        self,
        category: Category,
        categories: list[Category],
        capabilities: list[str],
        model_type: str,
        serving_type: str,
    ) -> None:
        members = list(dict.fromkeys(categories)) if categories else [category]
        if category not in members:
            members.insert(0, category)
        elif members[0] is not category:
            members.remove(category)
            members.insert(0, category)
        self.categories = tuple(members)
        self.capabilities = frozenset(c.lower() for c in capabilities)
        self.badge = badge_for(model_type, serving_type)
        self.local = self.badge != BADGE_REMOTE
        self.remote = serving_type != ServingType.LOCAL  # its requests leave this machine (variants too)
        self.haystack = " ".join(
            x
            for x in (
                " ".join(capabilities),
                " ".join(f"{c.value} {CATEGORY_LABELS[c]}" for c in self.categories),
            )
            if x
        )
        self.text = self.haystack.lower()  # how it ends every haystack of the kind


_KINDS: dict[tuple[object, ...], _Kind] = {}
_CATEGORY = {c.value: c for c in Category}
_STATUS = {s.value: s for s in ModelStatus}


def category_of_value(value: str) -> Category:
    """``Category(value)``, looked up (an unknown value raises as ``Category()`` does)."""
    return _CATEGORY.get(value) or Category(value)


class ModelFacts:
    """One model as a list shows and filters it, computed once.

    ``haystack`` holds what a search looks into (names, family, publisher, tags, description,
    capabilities, categories). The source's name is kept apart in ``provider``: a search word matches
    it only as a prefix, so that "llama" does not find every model of a source called "ollama".
    ``categories`` are all the model belongs to, its primary ``category`` first. ``local`` is False
    only for remote base models (the Local / Remote switch shows variants with the local ones);
    ``remote`` is True for every model whose requests go to a remote service, variants of one too.
    """

    __slots__ = (
        "_json",
        "_model",
        "badge",
        "capabilities",
        "categories",
        "category",
        "haystack",
        "id",
        "kind",
        "local",
        "name",
        "owner",
        "provider",
        "remote",
        "sort_key",
        "status",
        "status_message",
    )

    def __init__(self, model: UnifiedModel) -> None:
        self._model: UnifiedModel | None = model
        self._json: str | None = None
        self._fill(
            id=model.id,
            name=model.name,
            native=model.native_name,
            provider=model.provider,
            category=model.category,
            categories=model.categories,
            capabilities=model.capabilities,
            model_type=model.model_type,
            serving_type=model.serving_type,
            status=model.status,
            status_message=model.status_message,
            extra=(
                model.description,
                model.family,
                model.publisher,
                model.parameter_size,
                model.quantization,
            ),
            tags=model.tags,
        )

    @classmethod
    def from_json(cls, text: str) -> Self:
        """Facts from one stored registry row (``Registry.iter_json``), without building the model."""
        d = json.loads(text)
        facts = cls.__new__(cls)
        facts._model = None
        facts._json = text
        facts._fill(
            id=d["id"],
            name=d["name"],
            native=d.get("ollama_name") or d.get("remote_id") or d["name"],
            provider=d["provider"],
            category=category_of_value(d.get("category", "text")),
            categories=[category_of_value(c) for c in d.get("categories") or ()],
            capabilities=d.get("capabilities") or [],
            model_type=d.get("model_type", "base"),
            serving_type=d.get("serving_type", "local"),
            status=_STATUS.get(d.get("status", "available")) or ModelStatus(d.get("status")),
            status_message=d.get("status_message") or "",
            extra=tuple(
                d.get(k) for k in ("description", "family", "publisher", "parameter_size", "quantization")
            ),
            tags=d.get("tags") or [],
        )
        return facts

    def _fill(
        self,
        *,
        id: str,
        name: str,
        native: str,
        provider: str,
        category: Category,
        categories: list[Category],
        capabilities: list[str],
        model_type: str,
        serving_type: str,
        status: ModelStatus,
        status_message: str,
        extra: tuple[str | None, ...],
        tags: list[str],
    ) -> None:
        self.id = id
        self.name = name
        self.owner = provider
        self.category = category
        # What depends only on the model's kind is worked out once per kind (100,000 models come in a
        # few hundred kinds): its categories, capabilities, badge and their part of the haystack.
        key = (category, tuple(categories), tuple(capabilities), str(model_type), str(serving_type))
        kind = _KINDS.get(key)
        if kind is None:
            kind = _KINDS[key] = _Kind(category, categories, capabilities, model_type, serving_type)
        self.kind = kind  # shared by every model of its kind
        self.categories = kind.categories
        self.capabilities = kind.capabilities
        self.badge = kind.badge
        self.local = kind.local
        self.remote = kind.remote
        self.status = status
        self.status_message = status_message
        self.sort_key = (name.lower(), id)
        self.provider = provider.lower()
        self.haystack = " ".join(
            x
            for x in (
                name,
                native if native != name else "",
                *(e or "" for e in extra),
                " ".join(tags),
                kind.haystack,
            )
            if x
        ).lower()

    @property
    def model(self) -> UnifiedModel:
        model = self._model
        if model is None:
            from desktop_app.core.models import UnifiedModel

            assert self._json is not None
            model = self._model = UnifiedModel.model_validate_json(self._json)
            self._json = None
        return model

    @model.setter
    def model(self, value: UnifiedModel) -> None:
        self._model, self._json = value, None

    @property
    def materialized(self) -> bool:
        return self._model is not None


_F = TypeVar("_F", bound=ModelFacts)
_LOCAL, _CAPS, _PROVIDER = attrgetter("local"), attrgetter("capabilities"), attrgetter("provider")


def _keep(lists: tuple[list[Any], ...], keep: Iterable[bool]) -> tuple[list[Any], ...]:
    flags = bytes(keep)  # the iterators run once, at C speed
    if flags.count(0) == 0:
        return lists  # all of them: nothing to copy
    return tuple(list(compress(x, flags)) for x in lists)


class ModelQuery:
    """Search words (all must match), capabilities (all must be present) and the serving switch."""

    __slots__ = ("caps", "serving", "words")

    def __init__(
        self, words: tuple[str, ...] = (), caps: frozenset[str] = frozenset(), serving: Serving = Serving.ALL
    ) -> None:
        self.words = words
        self.caps = caps
        self.serving = serving

    @classmethod
    def parse(
        cls, text: str = "", capabilities: Iterable[str] = (), serving: Serving | str = Serving.ALL
    ) -> ModelQuery:
        """From what a user typed and picked: words are split and lower-cased."""
        return cls(tuple(text.lower().split()), frozenset(c.lower() for c in capabilities), Serving(serving))

    @property
    def filtering(self) -> bool:
        return bool(self.words or self.caps or self.serving is not Serving.ALL)

    def predicate(self) -> Callable[[ModelFacts], bool]:
        words, caps, serving = self.words, self.caps, self.serving
        want_local = serving is Serving.LOCAL
        any_serving = serving is Serving.ALL

        def accepts(row: ModelFacts) -> bool:
            if not any_serving and row.local != want_local:
                return False
            if caps and not caps <= row.capabilities:
                return False
            hay = row.haystack
            for w in words:  # noqa: SIM110 - a loop is faster here
                if w not in hay and not row.provider.startswith(w):
                    return False
            return True

        return accepts

    def select(self, rows: Iterable[_F]) -> set[_F]:
        """The rows this query accepts: the same answer as ``predicate``."""
        rows = list(rows)
        return set(self.select_lists(rows, [r.haystack for r in rows])[0])

    def select_lists(
        self,
        rows: list[_F],
        hays: list[str],
        *parallel: list[Any],
        providers: Iterable[str] | None = None,
        shared: tuple[int, dict[Any, str]] | None = None,
    ) -> tuple[list[Any], ...]:
        """The rows this query accepts, in their order, as ``(rows, hays, *parallel)``: ``hays[i]`` is
        ``rows[i].haystack`` and each of ``parallel`` is another list kept in step with ``rows``.
        The same answer as ``predicate``, one pass per condition, each a chain of C-level iterators (no
        Python call per row: a keystroke over 100,000 models). ``providers``: the rows' source names
        (lower-case) when the caller knows them; a superset is fine. ``shared``: ``(i, texts)`` when
        ``hays[i]`` holds only what is a row's own and ``parallel[i]`` its kind, whose text every row
        of the kind shares: the haystack is own + " " + ``texts[kind]``, and a search word (no space)
        is in it when it is in either part, so the shared part is searched once per kind."""
        lists: tuple[list[Any], ...] = (rows, hays, *parallel)
        if self.serving is not Serving.ALL:
            want_local = self.serving is Serving.LOCAL
            lists = _keep(lists, map(eq, map(_LOCAL, lists[0]), repeat(want_local)))
        if self.caps:
            lists = _keep(lists, map(self.caps.issubset, map(_CAPS, lists[0])))
        for w in self.words:
            found: Iterable[bool] = map(contains, lists[1], repeat(w))
            # A source's name matches by its start: few sources, so find them first.
            names = set(map(_PROVIDER, lists[0])) if providers is None else providers
            sources = {p for p in names if p.startswith(w)}
            if sources:
                found = map(or_, found, map(sources.__contains__, map(_PROVIDER, lists[0])))
            if shared is not None:
                kinds = {k for k, text in shared[1].items() if w in text}
                if kinds:
                    found = map(or_, found, map(kinds.__contains__, lists[2 + shared[0]]))
            lists = _keep(lists, found)
        return lists

    def narrows(self, old: ModelQuery) -> bool:
        """True when everything this query accepts, ``old`` accepted too (so only old matches need a test)."""
        if old.serving is not Serving.ALL and old.serving is not self.serving:
            return False
        if not old.caps <= self.caps:
            return False
        # A word that grew at its end only narrows (for both substring and source-prefix matches).
        return all(any(nw.startswith(ow) for nw in self.words) for ow in old.words)
