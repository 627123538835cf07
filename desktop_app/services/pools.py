"""Pools in use: which host of a pool takes a request, and what happens when a host fails.

``core.pools`` says which entries form a pool and ranks hosts; this module keeps what it ranks them
by, per process (:class:`PoolState` on the ``AppContext``): requests in flight and sent per host, the
models each host has loaded (``/api/ps``, cached a few seconds) and hosts that failed lately.

- Chat (:func:`stream_pool_chat`): the least busy host answers. A host that fails before the first
  chunk (down, timed out, model gone) is skipped and the request goes to the next; once the reply
  has started, a failure is reported as for any model.
- Evaluations (:class:`PoolDispatch`): the runner gives every member host its own workers, under the
  host's own concurrency limit, all drawing the pool's cases from one queue. A case whose host fails
  goes back to the queue for another host, never recorded twice; the host takes no more cases while
  another member is up. When every host is down, cases fail as on a single host (resumable).
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter, deque
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from desktop_app.core.chat import ChatChunk, ChatMessage, ChatOptions
from desktop_app.core.enums import SourceHealth
from desktop_app.core.errors import (
    BadResponse,
    ModelDeskError,
    ModelNotFound,
    SourceError,
    SourceUnavailable,
)
from desktop_app.core.models import UnifiedModel
from desktop_app.core.pools import (
    HostLoad,
    Pool,
    find_pools,
    is_pool_id,
    pool_row_model,
    rank_hosts,
    weight_of,
)
from desktop_app.services.context import AppContext

__all__ = [
    "HOST_FAILURES",
    "PS_MAX_AGE",
    "PoolDispatch",
    "PoolState",
    "find_pool",
    "host_loads",
    "is_pool_id",
    "list_pools",
    "pool_hosts",
    "pool_model",
    "pool_rows",
    "pool_state",
    "pooling_enabled",
    "refresh_loaded",
    "stream_pool_chat",
]

# Failures that say "this host, not this request": down, timed out, the connection dropped or a
# reply cut or garbled (StreamInterrupted is a BadResponse), the model gone since the last sync.
HOST_FAILURES: tuple[type[SourceError], ...] = (SourceUnavailable, BadResponse, ModelNotFound)
PS_MAX_AGE = 10.0  # seconds an /api/ps answer is trusted
PS_TIMEOUT = 1.0  # an /api/ps that takes longer is not waited for (the host is ranked without it)
DOWN_FOR = 30.0  # seconds a host that failed is ranked after the others


@dataclass
class PoolState:
    """What this process knows of each pooled host right now."""

    in_flight: Counter[str] = field(default_factory=Counter)
    served: Counter[str] = field(default_factory=Counter)
    failed_at: dict[str, float] = field(default_factory=dict)
    loaded: dict[str, tuple[float, frozenset[str]]] = field(default_factory=dict)  # source -> (when, names)

    def is_down(self, source: str) -> bool:
        at = self.failed_at.get(source)
        return at is not None and time.monotonic() - at < DOWN_FOR

    def mark_down(self, source: str) -> None:
        self.failed_at[source] = time.monotonic()

    def mark_up(self, source: str) -> None:
        self.failed_at.pop(source, None)

    def note_loaded(self, source: str, name: str) -> None:
        """A host that just answered for ``name`` has it in memory."""
        when, names = self.loaded.get(source, (time.monotonic(), frozenset()))
        if name not in names:
            self.loaded[source] = (when, names | {name})


def pool_state(ctx: AppContext) -> PoolState:
    state = ctx._pool_state
    if not isinstance(state, PoolState):
        state = ctx._pool_state = PoolState()
    return state


def pooling_enabled(ctx: AppContext) -> bool:
    return ctx.settings.preferences.pooling


def list_pools(ctx: AppContext, models: Sequence[UnifiedModel] | None = None) -> dict[str, Pool]:
    """The pools over the registry (or ``models``): enabled sources of a local, model-managing kind
    (Ollama) whose last sync did not find them down, with a weight above 0. Empty when pooling is off."""
    if not pooling_enabled(ctx):
        return {}
    states = ctx.registry.source_states()
    configs = {c.name: c for c in ctx.settings.sources}

    def pooled(source: str) -> bool:
        config = configs.get(source)
        spec = config.spec if config is not None else None
        state = states.get(source)
        return (
            config is not None
            and config.enabled
            and spec is not None
            and spec.local
            and spec.manages_models
            and (state is None or state.health is not SourceHealth.DOWN)
        )

    def weight(source: str) -> float:
        config = configs.get(source)
        return weight_of(config.options) if config is not None else 0.0

    rows = models if models is not None else ctx.registry.list_models()
    return find_pools(rows, pooled_source=pooled, weight=weight)


def pool_hosts(ctx: AppContext) -> list[str]:
    """The enabled sources that can be in a pool (local, model-managing: Ollama)."""
    return [
        c.name
        for c in ctx.settings.enabled_sources()
        if c.spec is not None and c.spec.local and c.spec.manages_models
    ]


def pool_rows(ctx: AppContext) -> list[tuple[UnifiedModel, Pool]]:
    """Each pool as one list row (``core.pools.pool_row_model``) with its pool, for lists that show
    pools among the models (the share app). Nothing is read when pooling is off or fewer than two hosts
    could pool; else only those hosts' registry rows."""
    from desktop_app.store.registry import ModelFilter

    hosts = pool_hosts(ctx)
    if not pooling_enabled(ctx) or len(hosts) < 2:
        return []
    models = [m for h in hosts for m in ctx.registry.list_models(ModelFilter(provider=h))]
    by_id = {m.id: m for m in models}
    return [(pool_row_model(p, by_id[p.members[0].model_id]), p) for p in list_pools(ctx, models).values()]


def find_pool(ctx: AppContext, ref: str) -> Pool:
    """The pool ``pool/<model>``; a clear error when there is none."""
    pools = list_pools(ctx)
    pool = pools.get(ref)
    if pool is not None:
        return pool
    if not pooling_enabled(ctx):
        raise ModelNotFound(
            f"{ref} is a pool, and pooling is off.",
            hint="Turn it on in Settings, or use one host's id (`modeldesk list`).",
        )
    known = ", ".join(sorted(pools)) or "none"
    raise ModelNotFound(
        f"No pool {ref!r} (pools now: {known}).",
        hint="A pool is one model with the same digest on two or more healthy Ollama hosts; "
        "run `modeldesk sync`, then `modeldesk pool list`.",
    )


def pool_model(ctx: AppContext, pool: Pool) -> UnifiedModel:
    """The pool as one registry-shaped model (its first member's facts under the pool id), for
    evaluations and reports; requests still go to the members."""
    first = ctx.registry.get(pool.members[0].model_id)
    return first.model_copy(update={"id": pool.id, "description": pool.label})


def host_loads(ctx: AppContext, pool: Pool) -> list[HostLoad]:
    state = pool_state(ctx)
    loads = []
    for m in pool.members:
        seen = state.loaded.get(m.source)
        loads.append(
            HostLoad(
                m.source,
                in_flight=state.in_flight[m.source],
                weight=m.weight,
                loaded=None if seen is None else pool.name in seen[1],
                served=state.served[m.source],
            )
        )
    return loads


async def refresh_loaded(ctx: AppContext, pool: Pool, *, max_age: float = PS_MAX_AGE) -> None:
    """Ask each member's ``/api/ps`` (at most every ``max_age`` seconds, never longer than
    ``PS_TIMEOUT``) which models it has in memory; a host that does not answer stays unknown."""
    state = pool_state(ctx)
    now = time.monotonic()

    async def one(source: str) -> None:
        backend = ctx.backend(source)
        ps = getattr(backend, "ps", None)
        if ps is None:
            return
        try:
            running = await asyncio.wait_for(ps(), PS_TIMEOUT)
        except (ModelDeskError, TimeoutError):
            return
        state.loaded[source] = (time.monotonic(), frozenset(r.name for r in running))

    stale = [m.source for m in pool.members if now - state.loaded.get(m.source, (-1e9, None))[0] > max_age]
    if stale:
        await asyncio.gather(*(one(s) for s in stale))


def ranked_members(ctx: AppContext, pool: Pool) -> list[str]:
    """Member sources in the order to try them: hosts that failed lately go last."""
    state = pool_state(ctx)
    ranked = rank_hosts(host_loads(ctx, pool))
    return [s for s in ranked if not state.is_down(s)] + [s for s in ranked if state.is_down(s)]


async def stream_pool_chat(
    ctx: AppContext,
    ref: str,
    messages: Sequence[ChatMessage],
    options: ChatOptions | None = None,
    *,
    on_host: Callable[[str], None] | None = None,
    **kwargs: Any,
) -> AsyncIterator[ChatChunk]:
    """Stream a reply from the least busy host of the pool ``ref``; a host that fails before the first
    chunk is skipped for the next. ``on_host`` is told the member id that answers."""
    from desktop_app.services.serving import stream_chat

    pool = find_pool(ctx, ref)
    await refresh_loaded(ctx, pool)
    state = pool_state(ctx)
    failures: list[str] = []
    last: SourceError | None = None
    for source in ranked_members(ctx, pool):
        member = pool.member(source)
        assert member is not None
        started = False
        state.in_flight[source] += 1
        state.served[source] += 1
        try:
            async for chunk in stream_chat(ctx, member.model_id, messages, options, **kwargs):
                if not started:
                    started = True
                    if on_host is not None:
                        on_host(member.model_id)
                yield chunk
            state.mark_up(source)
            state.note_loaded(source, pool.name)
            return
        except HOST_FAILURES as exc:
            if started:
                raise
            state.mark_down(source)
            failures.append(f"{source}: {exc.message}")
            last = exc
        finally:
            state.in_flight[source] -= 1
    assert last is not None
    raise type(last)(
        f"Every host of {pool.id} failed before answering ({'; '.join(failures)}).",
        source=pool.id,
        hint=last.hint,
    )


class PoolDispatch:
    """An evaluation's cases on one pool: one queue drawn by every member host's workers.

    Items are ``(model, case index)``. ``next_case`` hands a host the next one (or None when it
    should stop: nothing left, the run cancelled, or the host failed while another member is up);
    ``finish`` says a case ended, with ``retry`` when it must go to another host. The run records a
    case only once it finished without a host failure, or when no member is left to try it, so none
    is lost or run twice.
    """

    def __init__(self, pool: Pool, hosts: dict[str, UnifiedModel], state: PoolState) -> None:
        self.pool = pool
        self.hosts = hosts  # member source -> its registry entry
        self.state = state
        self.queue: deque[Any] = deque()
        self.down: set[str] = set()
        self.tried: dict[Any, set[str]] = {}
        self.active = 0
        self.held: Counter[str] = Counter()  # cases each host has taken and not finished
        self.cancelled = False
        self._changed = asyncio.Event()

    def any_up(self, besides: str | None = None) -> bool:
        return any(s not in self.down and s != besides for s in self.hosts)

    async def next_case(self, source: str, cap: int) -> Any | None:
        """The next case for ``source`` while it holds fewer than ``cap``; waits (only when the queue
        is empty) for a case to come back from a failed host, or for the last one to end."""
        while True:
            if self.cancelled or (source in self.down and self.any_up()):
                return None
            if self.queue and self.held[source] < cap:
                self.active += 1
                self.held[source] += 1
                self.state.in_flight[source] += 1
                self.state.served[source] += 1
                return self.queue.popleft()
            if not self.queue and self.active == 0:
                return None
            self._changed.clear()
            await self._changed.wait()  # a case ended: a slot here, or a case back from a failed host

    def should_retry(self, item: Any, source: str, exc: BaseException) -> bool:
        """Whether ``item``, failed on ``source`` with ``exc``, goes to another host instead of being
        recorded: a host failure, and a member not yet tried that is not down."""
        if not isinstance(exc, HOST_FAILURES):
            return False
        self.down.add(source)
        self.state.mark_down(source)
        tried = self.tried.setdefault(item, set())
        tried.add(source)
        return any(s not in self.down and s not in tried for s in self.hosts)

    def finish(self, item: Any, source: str, *, retry: bool = False) -> None:
        self.active -= 1
        self.held[source] -= 1
        self.state.in_flight[source] -= 1
        if retry:
            self.queue.appendleft(item)
        else:
            self.tried.pop((item[0].id, item[1]), None)
            if source not in self.down:
                self.state.note_loaded(source, self.pool.name)
        self._changed.set()

    def cancel(self) -> None:
        self.cancelled = True
        self._changed.set()
