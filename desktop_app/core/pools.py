"""Pools: one model (same name, same digest) on several healthy Ollama hosts, addressed as one.

Pure: which registry entries form a pool, what the pool is called, and which host should take the
next request given what is known about each host (requests in flight, its weight, whether the model
is already loaded there). The live state (in-flight counts, ``/api/ps``) is in ``services.pools``.

A pool is only ever made of entries whose digest is the same: a host serving different weights under
the same name answers differently, and is listed on its own. Entries keep their ``<source>/<model>``
ids; the pool id ``pool/<model>`` addresses the group.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from desktop_app.core.enums import ModelStatus, ModelType, ServingType

if TYPE_CHECKING:
    from desktop_app.core.models import UnifiedModel

__all__ = [
    "BADGE_POOL",
    "DEFAULT_WEIGHT",
    "POOL_OWNER",
    "POOL_PREFIX",
    "HostLoad",
    "HostResults",
    "Pool",
    "PoolMember",
    "choose_host",
    "find_pools",
    "is_pool_id",
    "per_host",
    "pool_id",
    "pool_row_model",
    "rank_hosts",
    "weight_of",
]

POOL_PREFIX = "pool/"
DEFAULT_WEIGHT = 1.0
# Pool rows (``pool/<model>``) are made by the window and the share app from the pools over the
# registry, never stored. Their owner is no source's name (a source name has no parentheses), so a
# sync of a source never touches them.
POOL_OWNER = "(pool)"
BADGE_POOL = "POOL"


def is_pool_id(ref: str) -> bool:
    return ref.startswith(POOL_PREFIX) and len(ref) > len(POOL_PREFIX)


def pool_id(name: str) -> str:
    return f"{POOL_PREFIX}{name}"


def weight_of(options: dict[str, object]) -> float:
    """A source's pool weight from its settings options (``options["weight"]``); 0 keeps the host out
    of pools; anything unusable counts as the default."""
    value = options.get("weight", DEFAULT_WEIGHT)
    if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
        return DEFAULT_WEIGHT
    return float(value)


@dataclass(frozen=True)
class PoolMember:
    model_id: str  # "<source>/<model>": the host's own registry entry
    source: str
    weight: float = DEFAULT_WEIGHT


@dataclass(frozen=True)
class Pool:
    id: str  # "pool/<model>"
    name: str  # the Ollama name all members serve, e.g. "llama3.2:latest"
    digest: str
    members: tuple[PoolMember, ...]

    @property
    def sources(self) -> list[str]:
        return [m.source for m in self.members]

    @property
    def label(self) -> str:
        """What the window and the CLI show: ``llama3.2:latest · 3 hosts``."""
        return f"{self.name} · {len(self.members)} hosts"

    def member(self, source: str) -> PoolMember | None:
        return next((m for m in self.members if m.source == source), None)


def pool_row_model(pool: Pool, first: UnifiedModel) -> UnifiedModel:
    """The pool as a list shows it: its first member's facts (name, categories, capabilities) under
    the pool id. Its hosts are in the description and the tags, so that a change of members or weights
    changes the row, and a search for "pool" or a host's name finds it."""
    weighted = any(m.weight != 1 for m in pool.members)
    hosts = ", ".join(f"{m.source} ×{m.weight:g}" if weighted else m.source for m in pool.members)
    return first.model_copy(
        update={
            "id": pool.id,
            "provider": POOL_OWNER,
            "description": f"{pool.label} ({hosts}): each request goes to the least busy of them.",
            "tags": ["pool", *pool.sources],
            "local_endpoint": None,
            "size_bytes": None,
        }
    )


class _Entry(Protocol):
    """What find_pools needs of a model (a ``UnifiedModel`` has it)."""

    @property
    def id(self) -> str: ...
    @property
    def provider(self) -> str: ...
    @property
    def ollama_name(self) -> str | None: ...
    @property
    def digest(self) -> str | None: ...
    @property
    def model_type(self) -> ModelType: ...
    @property
    def status(self) -> ModelStatus: ...
    @property
    def serving_type(self) -> ServingType: ...


def find_pools(
    models: Iterable[_Entry],
    *,
    pooled_source: Callable[[str], bool],
    weight: Callable[[str], float] = lambda _source: DEFAULT_WEIGHT,
) -> dict[str, Pool]:
    """Group base Ollama entries by (name, digest) over the sources ``pooled_source`` accepts (enabled,
    healthy, of a local kind, weight above 0). Only groups on two or more hosts are pools. When one name
    has several digests each on two hosts or more, the group with most hosts is ``pool/<name>`` and the
    others ``pool/<name>@<first 12 of the digest>``."""
    groups: dict[tuple[str, str], list[PoolMember]] = {}
    for m in models:
        if (
            m.model_type is not ModelType.BASE
            or m.status is not ModelStatus.AVAILABLE
            or m.serving_type is not ServingType.LOCAL
            or not m.ollama_name
            or not m.digest
            or not pooled_source(m.provider)
        ):
            continue
        w = weight(m.provider)
        if w <= 0:
            continue
        groups.setdefault((m.ollama_name, m.digest), []).append(PoolMember(m.id, m.provider, w))
    by_name: dict[str, list[tuple[str, list[PoolMember]]]] = {}
    for (name, digest), members in groups.items():
        if len({x.source for x in members}) >= 2:
            by_name.setdefault(name, []).append((digest, sorted(members, key=lambda x: x.source)))
    pools: dict[str, Pool] = {}
    for name, variants in sorted(by_name.items()):
        variants.sort(key=lambda v: (-len(v[1]), v[0]))
        for rank, (digest, members) in enumerate(variants):
            pid = pool_id(name) if rank == 0 else f"{pool_id(name)}@{digest.removeprefix('sha256:')[:12]}"
            pools[pid] = Pool(pid, name, digest, tuple(members))
    return pools


@dataclass(frozen=True)
class HostLoad:
    """What is known of one member host right now."""

    source: str
    in_flight: int = 0
    weight: float = DEFAULT_WEIGHT
    loaded: bool | None = None  # the model is in memory there (/api/ps); None: not known
    served: int = 0  # requests sent there so far (spreads equal hosts in turn)


def _key(h: HostLoad) -> tuple[float, int, float, str]:
    w = h.weight if h.weight > 0 else 1e-9
    return (h.in_flight / w, 0 if h.loaded else 1, h.served / w, h.source)


def rank_hosts(hosts: Sequence[HostLoad], exclude: Iterable[str] = ()) -> list[str]:
    """Member sources best first: fewest requests in flight for its weight, then the model already
    loaded (no load time), then fewest sent so far for its weight, then by name (stable)."""
    skip = set(exclude)
    return [h.source for h in sorted((h for h in hosts if h.source not in skip), key=_key)]


def choose_host(hosts: Sequence[HostLoad], exclude: Iterable[str] = ()) -> str | None:
    """The least busy host (see :func:`rank_hosts`), or None when every host is excluded."""
    ranked = rank_hosts(hosts, exclude)
    return ranked[0] if ranked else None


@dataclass
class HostResults:
    """One host's share of a pooled model's cases: to catch a host that answers differently."""

    model_id: str  # the pool
    host: str  # the host entry that answered
    cases: int = 0
    passed: int = 0
    errors: int = 0
    latency_s: float = 0.0  # summed; mean = latency_s / cases with a latency

    @property
    def pass_rate(self) -> float:
        return 100.0 * self.passed / self.cases if self.cases else 100.0


class _Case(Protocol):
    @property
    def model_id(self) -> str: ...
    @property
    def host(self) -> str | None: ...
    @property
    def passed(self) -> bool: ...
    @property
    def error(self) -> str | None: ...
    @property
    def latency_s(self) -> float | None: ...


def per_host(cases: Iterable[_Case]) -> list[HostResults]:
    """Pooled cases (those with a ``host``) grouped by (pool, host), in that order."""
    out: dict[tuple[str, str], HostResults] = {}
    for c in cases:
        if c.host is None:
            continue
        r = out.get((c.model_id, c.host))
        if r is None:
            r = out[(c.model_id, c.host)] = HostResults(c.model_id, c.host)
        r.cases += 1
        r.passed += c.passed
        r.errors += c.error is not None
        r.latency_s += c.latency_s or 0.0
    return [out[k] for k in sorted(out)]
