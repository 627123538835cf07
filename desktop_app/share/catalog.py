"""The models the browser app offers, read from the shared registry and filtered like the window.

Remote (paid, rate-limited) models are left out entirely unless the launcher allowed them: they are
not listed, not counted, and an id typed by hand is refused (``require``). The registry is re-read
only when another process (the window's sync, the CLI) has committed to it since the last read.
Pools (one model on several Ollama hosts, ``pool/<model>``) are listed as one row each, badge POOL
and "N hosts" as source, worked out at each (re)read by ``pools`` (``services.pools.pool_rows``) and
never written to the registry; pools are local, so always offered.
Nothing here imports gradio, so it is tested and benchmarked on its own.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from desktop_app.core.capabilities import CAPABILITY_LABELS, chat_refusal
from desktop_app.core.enums import Category, ModelStatus
from desktop_app.core.errors import InvalidInput, ModelDeskError
from desktop_app.core.model_query import (
    CATEGORY_LABELS,
    CATEGORY_ORDER,
    ModelFacts,
    ModelQuery,
    Serving,
)
from desktop_app.core.pools import BADGE_POOL

if TYPE_CHECKING:
    from desktop_app.core.models import UnifiedModel
    from desktop_app.core.pools import Pool
    from desktop_app.store.registry import Registry

__all__ = ["ALL_CATEGORIES", "COLUMNS", "MAX_LISTED", "Catalog"]

ALL_CATEGORIES = "all"
# A page lists at most this many models (and offers as many in its pickers): 10,000 rows are no use
# to a reader and cost seconds to send; a search or a category narrows the list, and any offered id
# can still be typed into a picker or opened from the Models tab.
MAX_LISTED = 500
COLUMNS = ("Model", "Runs", "Capabilities", "Source", "Status", "Id")
_SHOWN_CAPS = ("embedding", "vision", "image", "tools", "thinking", "insert", "audio")  # as the window
_USABLE = (ModelStatus.AVAILABLE,)
log = logging.getLogger(__name__)

PoolRows = Callable[[], Sequence[tuple["UnifiedModel", "Pool"]]]


def pool_facts(row: UnifiedModel, pool: Pool) -> ModelFacts:
    """A pool's row as the lists show it: the POOL badge, its host count as the source, and first
    among its hosts' rows (as in the window's tree)."""
    facts = ModelFacts(row)
    facts.badge = BADGE_POOL
    facts.owner = f"{len(pool.members)} hosts"
    facts.sort_key = (row.name.lower(), "\0" + row.id)
    return facts


class Catalog:
    def __init__(self, registry: Registry, *, allow_remote: bool, pools: PoolRows | None = None) -> None:
        self.registry = registry
        self.allow_remote = allow_remote
        self.pools = pools
        self._lock = threading.Lock()
        self._version: int | None = None
        self._facts: list[ModelFacts] = []
        self._by_id: dict[str, ModelFacts] = {}
        self.hidden_remote = 0  # remote models left out (the page says how many, not which)

    # ------------------------------------------------------------------ reading
    def facts(self) -> list[ModelFacts]:
        """Every offered model, sorted by name; re-read when the registry changed."""
        with self._lock:
            version = self.registry.data_version()
            if version != self._version:
                rows = [ModelFacts.from_json(text) for text in self.registry.iter_json()]
                offered = [f for f in rows if self.allow_remote or not f.remote]
                offered += self._pool_facts()
                offered.sort(key=lambda f: f.sort_key)
                self._facts, self._version = offered, version
                self._by_id = {f.id: f for f in offered}
                self.hidden_remote = sum(f.remote for f in rows) if not self.allow_remote else 0
            return self._facts

    def _pool_facts(self) -> list[ModelFacts]:
        if self.pools is None:
            return []
        try:
            return [pool_facts(row, pool) for row, pool in self.pools()]
        except ModelDeskError as exc:  # the models are still listed, each on its own host
            log.warning("could not compute the pools: %s", exc)
            return []

    def require(self, model_id: str) -> UnifiedModel:
        """The offered model with this id; anything else (remote without permission, unknown) is refused
        with the same message, so the page cannot be used to learn what else the registry holds."""
        self.facts()
        found = self._by_id.get(model_id or "")
        if found is None:
            raise InvalidInput(f"{model_id!r} is not one of the models shared here; pick one from the list.")
        return found.model

    # ------------------------------------------------------------------ the Models tab
    def category_choices(self) -> list[tuple[str, str]]:
        """(label with count, value) for the category picker: all, then the ten in the window's order."""
        facts = self.facts()
        counts = dict.fromkeys(CATEGORY_ORDER, 0)
        for f in facts:
            for c in f.categories:
                counts[c] += 1
        return [(f"All ({len(facts)})", ALL_CATEGORIES)] + [
            (f"{CATEGORY_LABELS[c]} ({counts[c]})", c.value) for c in CATEGORY_ORDER
        ]

    def search(
        self,
        category: str = ALL_CATEGORIES,
        text: str = "",
        capabilities: Sequence[str] = (),
        serving: str = Serving.ALL,
    ) -> list[ModelFacts]:
        """The models of a category (all when ``category`` is "all") that match the query."""
        if serving == Serving.REMOTE and not self.allow_remote:
            return []
        accepts = ModelQuery.parse(text or "", capabilities or (), serving or Serving.ALL).predicate()
        cat = None if not category or category == ALL_CATEGORIES else Category(category)
        return [f for f in self.facts() if (cat is None or cat in f.categories) and accepts(f)]

    @staticmethod
    def table(facts: Sequence[ModelFacts]) -> list[list[str]]:
        return [
            [
                f.name,
                f.badge,
                ", ".join(CAPABILITY_LABELS.get(c, c) for c in _SHOWN_CAPS if c in f.capabilities),
                f.owner,
                f.status.value,
                f.id,
            ]
            for f in facts
        ]

    # ------------------------------------------------------------------ chat and evaluation
    def chat_models(self, limit: int = MAX_LISTED) -> list[tuple[str, str]]:
        """(label, id) of the offered models that can chat (usable; not embedding or image-generation
        models: ``core.capabilities.chat_refusal``), local ones first, at most ``limit``."""
        usable = [
            f for f in self.facts() if f.status in _USABLE and chat_refusal(f.name, f.capabilities) is None
        ]
        usable.sort(key=lambda f: (f.remote, f.sort_key))
        return [(f"{f.name} · {f.badge.lower()} · {f.owner}", f.id) for f in usable[:limit]]

    def reads_images(self, model_id: str) -> bool:
        self.facts()
        found = self._by_id.get(model_id or "")
        return found is not None and "vision" in found.capabilities
