"""The evaluation runner: one suite over N models/variants × M test cases, concurrently.

- Every request goes through ``services.serving`` (so variants, materialized or not, resolve the same
  way as in chat), under a concurrency limit per source (``services/limiter.py``).
- A reply that is empty or was cut short is an error on its case (retryable), never a scored answer.
- A 429 never fails a case: the source is paused for the time the service asked for and the request
  is retried, for as long as it takes (the user can cancel and resume later).
- Each finished case is appended to the run file (``services/run_files.py``) at once, so a crash loses
  at most the cases in flight, and :meth:`EvaluationRunner.resume` finishes an interrupted or
  cancelled run (also running again cases that failed on a host that was down).
- ``cancel()`` (or cancelling the task) stops cleanly: cases in flight are dropped, finished ones kept.
- Scoring asks the ``EVALUATORS`` table (``core/evaluators/``); an evaluator that needs a model (a
  judge, an embedding model) gets it from its role's provider (``services/eval_helpers.py``), a model
  from the registry called the same way as the models under test.

The results object is :class:`~desktop_app.core.evaluation.EvaluationRun`; ``on_progress`` receives an
:class:`EvalProgress` for each finished case and each rate-limit wait (the CLI draws its bars from
them; the window can hook the same callback). Nothing here knows about MLflow or Qt.
"""

from __future__ import annotations

import asyncio
import itertools
import time
from collections import deque
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from desktop_app.core.chat import ChatChunk, ChatMessage, ChatOptions, ChatResult, ToolCall
from desktop_app.core.errors import (
    BadResponse,
    InvalidInput,
    ModelDeskError,
    RateLimited,
    SourceUnavailable,
    StreamInterrupted,
)
from desktop_app.core.evaluation import CaseResult, EvaluationRun, RunStatus
from desktop_app.core.evaluators import CaseOutput, EvaluatorResult, error_result
from desktop_app.core.models import ModelType, UnifiedModel, utcnow
from desktop_app.core.pools import is_pool_id
from desktop_app.core.suite import EvaluatorSpec, Suite
from desktop_app.core.suite_parse import parse_suite
from desktop_app.core.variants import chain, collect_settings
from desktop_app.services import pools as pool_service
from desktop_app.services import run_files, serving
from desktop_app.services.context import AppContext
from desktop_app.services.eval_helpers import HELPERS, HelperProvider
from desktop_app.services.limiter import SourceLimiter, default_limit, hold_off
from desktop_app.services.model_refs import resolve_model_ref
from desktop_app.services.retry import EVALUATION_RETRY, RateLimitRetry
from desktop_app.services.run_files import RUN_FILE_VERSION, RunFileData, RunWriter, find_run, runs_dir
from desktop_app.services.tool_eval import SuiteTools

__all__ = ["EmptyReply", "EvalProgress", "EvaluationRunner", "ProgressCallback"]

# Workers per slot of a limiter: more than one, so that while some wait for a judge or an embedding
# (on another source's slots) others keep this source's slots busy.
WORKERS_PER_SLOT = 4
POOL_WORKERS_PER_SLOT = 2  # a pool's host: one case generating and one being scored per slot


class EmptyReply(BadResponse):
    """The model's reply had no text (and no tool call): nothing to score, so the case is an error."""

    default_hint = (
        "Try the case again (`modeldesk eval --resume RUN`); if it stays empty, check the server's log "
        "and the model's maxTokens (a thinking model can spend them all before answering)."
    )


_RETRYABLE = (SourceUnavailable, StreamInterrupted, EmptyReply)  # SourceTimeout is a SourceUnavailable


# --------------------------------------------------------------------------------------------- progress
@dataclass(frozen=True)
class EvalProgress:
    """One event of a run. ``done``/``total`` count this model's cases; ``overall_*`` all of them."""

    event: Literal["start", "case", "wait", "finished"]
    model_id: str | None
    done: int
    total: int
    overall_done: int
    overall_total: int
    case: CaseResult | None = None
    message: str = ""
    wait_s: float = 0.0


ProgressCallback = Callable[[EvalProgress], None]


@dataclass
class _ModelPlan:
    model: UnifiedModel
    limiter: SourceLimiter
    options: ChatOptions
    system_override: str | None
    response_format: str | dict[str, Any] | None


@dataclass
class _Helper:
    """The model an evaluator asks (a judge, an embedding model), its provider and its limiter."""

    provider: HelperProvider
    model: UnifiedModel
    limiter: SourceLimiter


@dataclass
class _Counters:
    done: dict[str, int] = field(default_factory=dict)


# --------------------------------------------------------------------------------------------- the runner
class EvaluationRunner:
    """Runs (or resumes) one evaluation. ``results`` is the live results object."""

    def __init__(
        self,
        ctx: AppContext,
        suite: Suite,
        models: Sequence[str] | None = None,
        *,
        concurrency: int | None = None,
        judge: str | None = None,
        on_progress: ProgressCallback | None = None,
        run_id: str | None = None,
        allow_tools: bool = False,
        _resume_from: RunFileData | None = None,
        _run_path: Path | None = None,
    ) -> None:
        if concurrency is not None and concurrency < 1:
            raise InvalidInput(f"--concurrency must be 1 or more, not {concurrency}.")
        self.ctx = ctx
        self.suite = suite
        self.concurrency = concurrency
        self.judge_ref = judge
        self.on_progress = on_progress
        refs = list(models) if models else suite.model_ids()
        if not refs:
            raise InvalidInput(
                "No model to run: give --model ID, or set `model:` (or ModelDesk's `models:` list) "
                "in the suite."
            )
        # Pools (``pool/<model>``): cases spread over the member hosts (services.pools.PoolDispatch).
        self._pools: dict[str, pool_service.PoolDispatch] = {}
        resolved = [self._pool_model(r) if is_pool_id(r.strip()) else resolve_model_ref(ctx, r) for r in refs]
        self.models: list[UnifiedModel] = list({m.id: m for m in resolved}.values())
        self.limiters: dict[tuple[str, str], SourceLimiter] = {}
        self._plans = {m.id: self._plan(m) for m in self.models}
        self._helpers: dict[str, _Helper] = {}
        self._prepare_evaluators()
        self._resumed = _resume_from
        if _resume_from is not None:
            self.results = EvaluationRun.model_validate(_resume_from.header["run"])
            self.results.cases = []
            for case in _resume_from.cases:
                self.results.add(case)
            retry = [c.key for c in self.results.cases if c.error is not None and c.retryable]
            self.results.discard(retry)
            self.results.status = RunStatus.RUNNING
            self.results.finished_at = None
            self.run_path = _run_path or runs_dir(ctx) / f"{self.results.run_id}.jsonl"
        else:
            self.results = EvaluationRun(
                run_id=run_id or run_files.new_run_id(suite),
                suite_name=suite.name,
                suite_description=suite.description,
                suite_model=suite.model,
                suite_path=suite.path,
                suite_hash=suite.content_hash(),
                model_ids=[m.id for m in self.models],
                evaluator_names=[e.name for e in suite.evaluators],
                case_count=len(suite.test_data),
                judge=judge,
            )
            self.run_path = runs_dir(ctx) / f"{self.results.run_id}.jsonl"
        self._cancel = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self._writer: RunWriter | None = None
        self._counters = _Counters()
        self._started = False
        self.allow_tools = allow_tools
        self._tools = SuiteTools(ctx, suite, allow_mcp=allow_tools) if suite.tools else None

    # ------------------------------------------------------------------ resume
    @classmethod
    def resume(
        cls,
        ctx: AppContext,
        run_ref: str,
        *,
        concurrency: int | None = None,
        on_progress: ProgressCallback | None = None,
    ) -> EvaluationRunner:
        """A runner that finishes the run ``run_ref`` (an id, a prefix of one, or a path)."""
        path = find_run(ctx, run_ref)
        data = run_files.read_run_file(path)
        header = data.header
        if header.get("version", 1) > RUN_FILE_VERSION:
            raise InvalidInput(f"{path} was written by a newer ModelDesk; update to resume it.")
        suite = parse_suite(header["suite_yaml"], file=header["run"].get("suite_path") or "")
        options = header.get("options", {})
        return cls(
            ctx,
            suite,
            header["run"]["model_ids"],
            concurrency=concurrency if concurrency is not None else options.get("concurrency"),
            judge=options.get("judge"),
            allow_tools=bool(options.get("allow_tools")),
            on_progress=on_progress,
            _resume_from=data,
            _run_path=path,
        )

    # ------------------------------------------------------------------ planning
    def _pool_model(self, ref: str) -> UnifiedModel:
        """A pool in the run: one model id (the pool's), its cases run on its hosts."""
        pool = pool_service.find_pool(self.ctx, ref.strip())
        hosts = {m.source: self.ctx.registry.get(m.model_id) for m in pool.members}
        self._pools[pool.id] = pool_service.PoolDispatch(pool, hosts, pool_service.pool_state(self.ctx))
        return pool_service.pool_model(self.ctx, pool)

    def _limiter(self, model: UnifiedModel) -> SourceLimiter:
        key, limit = default_limit(self.ctx, model, self.concurrency)
        limiter = self.limiters.get(key)
        if limiter is None:
            limiter = self.limiters[key] = SourceLimiter(key, limit)
        return limiter

    def _plan(self, model: UnifiedModel) -> _ModelPlan:
        serving.resolve(self.ctx, model)  # raises early for retired or orphaned models
        system, variant_opts = collect_settings(
            itertools.takewhile(
                lambda m: m.model_type is not ModelType.BASE, chain(model, self.ctx.registry.find)
            )
        )
        # A variant's own parameters and system prompt win over the suite's (that is what is tested);
        # they are sent explicitly so that every variant in a chain counts, materialized or not.
        options = self.suite.model_parameters.to_options().merged(variant_opts)
        fmt: str | dict[str, Any] | None = self.suite.response_format_arg()
        return _ModelPlan(model, self._limiter(model), options, system, fmt)

    def _prepare_evaluators(self) -> None:
        """Resolve the model each evaluator asks for now, so that a missing judge fails the run at once."""
        providers: dict[str, HelperProvider] = {}
        for spec in self.suite.evaluators:
            need = spec.helper()
            if need is None:
                continue
            provider = providers.get(need.role)
            if provider is None:
                provider = providers[need.role] = HELPERS[need.role](self.ctx, self._chat, self.judge_ref)
            model = provider.model(spec.name, spec.kind, need.model_ref)
            self._helpers[spec.name] = _Helper(provider, model, self._limiter(model))

    # ------------------------------------------------------------------ control
    def cancel(self) -> None:
        """Stop: no new case starts, cases in flight are dropped, finished ones are kept."""
        self._cancel.set()
        for dispatch in self._pools.values():
            dispatch.cancel()
        for task in self._tasks:
            task.cancel()

    @property
    def cancelled(self) -> bool:
        return self._cancel.is_set()

    def pending(self) -> list[tuple[UnifiedModel, int]]:
        """(model, case index) still to run, case by case so that every model progresses together."""
        done = self.results.done_keys()
        return [
            (m, i) for i in range(len(self.suite.test_data)) for m in self.models if (m.id, i) not in done
        ]

    def _emit(self, event: EvalProgress) -> None:
        if self.on_progress is not None:
            self.on_progress(event)

    def _progress(
        self, kind: Literal["start", "case", "wait", "finished"], model_id: str | None, **kw: Any
    ) -> EvalProgress:
        total = self.results.case_count
        done = self._counters.done.get(model_id, 0) if model_id else 0
        return EvalProgress(kind, model_id, done, total, self.results.done, self.results.planned, **kw)

    # ------------------------------------------------------------------ running
    async def run(self) -> EvaluationRun:
        """Run every pending case; returns the results (status complete or cancelled). Cancelling the
        task that awaits this also stops cleanly (the results stay in ``results``), then re-raises."""
        if self._started:
            raise InvalidInput(
                "This run has already been started; use EvaluationRunner.resume to continue it."
            )
        self._started = True
        todo = self.pending()
        if self._tools is not None:
            try:
                await self._tools.open()  # starts the MCP servers it names; refuses unallowed ones
            except BaseException:
                await self._tools.aclose()
                raise
        self._writer = writer = RunWriter(self.run_path)
        try:
            if self._resumed is None:
                self._writer.write(self._header())
            else:
                self._writer.write(run_files.resume_record(len(todo)))
            if writer.failure is not None:
                raise writer.failure
            for m in self.models:
                self._counters.done[m.id] = len(self.results.results_for(m.id))
            self._emit(self._progress("start", None))
            # Work queues per limiter, case by case, each drained by a few workers: a bounded number
            # of tasks however big the run, and a slow source never holds up the others.
            queues: dict[SourceLimiter, deque[tuple[UnifiedModel, int]]] = {}
            for m, i in todo:
                if m.id in self._pools:
                    self._pools[m.id].queue.append((m, i))
                else:
                    queues.setdefault(self._plans[m.id].limiter, deque()).append((m, i))
            bugs: list[Exception] = []
            self._tasks = [
                asyncio.create_task(self._worker(queue, bugs))
                for limiter, queue in queues.items()
                for _ in range(min(len(queue), WORKERS_PER_SLOT * limiter.limit))
            ]
            self._tasks += self._pool_workers(bugs)
            try:
                await asyncio.gather(*self._tasks, return_exceptions=True)
            except asyncio.CancelledError:
                self._cancel.set()
                for task in self._tasks:
                    task.cancel()
                await asyncio.gather(*self._tasks, return_exceptions=True)
                self._finish(RunStatus.CANCELLED)
                raise
            if writer.failure is not None:
                self._finish(RunStatus.INTERRUPTED)
                raise writer.failure
            if bugs:  # not a model's failure (those are recorded on their case): let it be seen
                self._finish(RunStatus.INTERRUPTED)
                raise bugs[0]
            self._finish(
                RunStatus.CANCELLED
                if self._cancel.is_set() and not self.results.complete
                else RunStatus.COMPLETE
            )
            return self.results
        finally:
            self._tasks = []
            if self._tools is not None:
                await self._tools.aclose()
            if self._writer is not None:
                self._writer.close()
                self._writer = None

    async def _worker(self, queue: deque[tuple[UnifiedModel, int]], bugs: list[Exception]) -> None:
        while queue and not self._cancel.is_set():
            model, index = queue.popleft()
            try:
                await self._run_case(model, index)
            except Exception as exc:  # a bug (e.g. in a progress callback): kept, raised at the end
                bugs.append(exc)

    # ------------------------------------------------------------------ pools
    def _pool_workers(self, bugs: list[Exception]) -> list[asyncio.Task[None]]:
        """Each member host of each pool gets two workers per slot of its own limiter (one generating,
        one being scored), started in turn (a, b, c, a, b, c…) so the first cases spread. They all
        draw the pool's one queue, so a faster host takes more cases and a host that failed takes
        none; none waits for a case while the queue has one (no wake-up storms on a long run)."""
        tasks = []
        for dispatch in self._pools.values():
            if not dispatch.queue:
                continue
            plan = [
                (source, POOL_WORKERS_PER_SLOT * self._limiter(host).limit)
                for source, host in dispatch.hosts.items()
            ]
            for i in range(min(len(dispatch.queue), max(n for _, n in plan))):
                for source, n in plan:
                    if i < n:
                        worker = self._pool_worker(dispatch, source, n, bugs)
                        tasks.append(asyncio.create_task(worker))
        return tasks

    async def _pool_worker(
        self, dispatch: pool_service.PoolDispatch, source: str, cap: int, bugs: list[Exception]
    ) -> None:
        while not self._cancel.is_set():
            item = await dispatch.next_case(source, cap)
            if item is None:
                return
            retry = False
            try:
                model, index = item
                retry = await self._run_case(model, index, host=(dispatch, source))
            except Exception as exc:  # a bug: kept, raised at the end
                bugs.append(exc)
            finally:
                dispatch.finish(item, source, retry=retry)

    def _finish(self, status: RunStatus) -> None:
        self.results.status = status
        self.results.finished_at = utcnow()
        if self._writer is not None:
            self._writer.write(run_files.end_record(self.results))
        self._emit(self._progress("finished", None))

    def _header(self) -> dict[str, Any]:
        options = {"concurrency": self.concurrency, "judge": self.judge_ref, "allow_tools": self.allow_tools}
        return run_files.header_record(self.results, self.suite, options)

    def _messages(self, plan: _ModelPlan, variables: dict[str, Any]) -> list[ChatMessage]:
        messages = self.suite.render_messages(variables)
        if plan.system_override:
            messages = [ChatMessage(role="system", content=plan.system_override)] + [
                m for m in messages if m.role != "system"
            ]
        return messages

    async def _run_case(
        self, model: UnifiedModel, index: int, host: tuple[pool_service.PoolDispatch, str] | None = None
    ) -> bool:
        """Run and record one case; True (nothing recorded) when a pool's host failed and the case
        goes to another host."""
        if self._cancel.is_set():
            return False
        plan = self._plans[model.id]
        variables = self.suite.test_data[index]
        messages = self._messages(plan, variables)
        case = CaseResult(model_id=model.id, case_index=index, test_case=variables, messages=messages)
        target, limiter = model, plan.limiter
        if host is not None:
            target = host[0].hosts[host[1]]
            limiter = self._limiter(target)
            case.host = target.id
        try:
            if self._tools is not None:
                result, latency, waited = await self._chat_with_tools(plan, target, messages, case, limiter)
            else:
                result, latency, waited = await self._chat(
                    limiter, target, messages, plan.options, plan.response_format
                )
            case.output = case.output or result.content.strip()
            case.thinking = result.thinking
            case.latency_s = latency
            case.rate_limit_wait_s = waited
            m = result.metrics
            case.ttft_s, case.prompt_tokens, case.completion_tokens, case.tokens_per_s = (
                m.ttft_s,
                m.prompt_tokens,
                m.completion_tokens,
                m.tokens_per_s,
            )
            if not case.output and not result.tool_calls:
                reason = result.metrics.done_reason
                said = f" (the server said it stopped: {reason})" if reason else ""
                raise EmptyReply(f"{model.id} sent an empty reply{said}.", source=model.provider)
        except asyncio.CancelledError:
            raise
        except ModelDeskError as exc:
            if (
                host is not None
                and not isinstance(exc, EmptyReply)  # the model's answer, not the host's failure
                and host[0].should_retry((model.id, index), host[1], exc)
            ):
                return True
            self._fail(case, exc)
        except Exception as exc:  # a bug must not sink a long run; it is recorded on the case
            case.error = f"internal error: {type(exc).__name__}: {exc}"
            case.error_kind = type(exc).__name__
        if case.error is None:
            try:
                case.evaluations = await self._evaluate(case.output, variables, case.tool_calls)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # a bug in scoring: recorded on the case, the run goes on
                case.error = f"internal error while scoring: {type(exc).__name__}: {exc}"
                case.error_kind = type(exc).__name__
        case.finished_at = utcnow()
        self._record(case)
        return False

    @staticmethod
    def _fail(case: CaseResult, exc: ModelDeskError) -> None:
        case.error = str(exc)
        case.error_kind = type(exc).__name__
        case.retryable = isinstance(exc, _RETRYABLE)
        if isinstance(exc, StreamInterrupted) and exc.partial:
            case.output = exc.partial.strip()

    def _record(self, case: CaseResult) -> None:
        self.results.add(case)
        self._counters.done[case.model_id] = self._counters.done.get(case.model_id, 0) + 1
        if self._writer is not None:
            self._writer.write_line(run_files.case_line(case))
            if self._writer.failure is not None:
                self._cancel.set()  # nothing more can be kept: stop, and run() raises the failure
        self._emit(self._progress("case", case.model_id, case=case))

    async def _chat_with_tools(
        self,
        plan: _ModelPlan,
        model: UnifiedModel,
        messages: list[ChatMessage],
        case: CaseResult,
        limiter: SourceLimiter | None = None,
    ) -> tuple[ChatResult, float, float]:
        """A case whose model is offered the suite's tools: each model round takes the source's limiter
        (tools run between rounds without holding it). Fills ``case.tool_calls`` and ``case.output``."""
        assert self._tools is not None
        limiter = limiter or plan.limiter

        async def limited(*args: Any, **kwargs: Any) -> AsyncIterator[ChatChunk]:
            await limiter.acquire()
            try:
                async for chunk in serving.stream_chat(*args, **kwargs):
                    yield chunk
            finally:
                limiter.release()

        outcome = await self._tools.run_case(model, messages, plan.options, limited, plan.response_format)
        case.tool_calls = outcome.calls
        case.output = outcome.output()
        return outcome.result, outcome.latency_s, 0.0

    async def _chat(
        self,
        limiter: SourceLimiter,
        model: UnifiedModel,
        messages: Sequence[ChatMessage],
        options: ChatOptions | None,
        response_format: str | dict[str, Any] | None = None,
        *,
        urgent: bool = False,
    ) -> tuple[ChatResult, float, float]:
        """One reply, waiting out rate limits for as long as it takes. Returns the reply, its latency
        (seconds, without rate-limit waits) and the time spent waiting."""
        waited = 0.0
        waits: list[float] = []  # waits inside serving.stream_chat's own retries, this attempt

        def on_wait(seconds: float, message: str) -> None:
            waits.append(seconds)
            limiter.pause(seconds)
            self._emit(self._progress("wait", model.id, message=f"{model.id}: {message}", wait_s=seconds))

        def announce(seconds: float, message: str) -> None:
            self._emit(self._progress("wait", model.id, message=message, wait_s=seconds))

        retry = RateLimitRetry(
            EVALUATION_RETRY,
            on_wait=announce,
            sleep=hold_off(limiter),
            describe=lambda exc, wait, n: (
                f"{model.id}: rate limited ({exc.message}); waiting {wait:.0f} s, then try {n + 1}"
            ),
        )
        while True:
            waits.clear()
            await limiter.acquire(urgent=urgent)
            started = time.perf_counter()
            try:
                result = ChatResult()
                async for chunk in serving.stream_chat(
                    self.ctx, model, messages, options, response_format=response_format, on_wait=on_wait
                ):
                    result.add(chunk)
                elapsed = time.perf_counter() - started - sum(waits)
                return result, max(0.0, elapsed), waited + sum(waits) + retry.waited
            except RateLimited as exc:
                waited += sum(waits)
                await retry.wait(exc)  # pauses the limiter: the next acquire waits it out
            finally:
                limiter.release()

    # ------------------------------------------------------------------ evaluators
    async def _evaluate(
        self, output: str, variables: dict[str, Any], calls: Sequence[ToolCall] = ()
    ) -> list[EvaluatorResult]:
        """Every evaluator's result, in the suite's order; those that ask a model run concurrently."""
        case = CaseOutput(output=output, variables=variables, tool_calls=tuple(calls))
        results: list[EvaluatorResult | None] = []
        pending: list[tuple[int, Any]] = []
        for spec in self.suite.evaluators:
            helper = self._helpers.get(spec.name)
            if helper is None:
                results.append(spec.evaluator.score(spec.name, spec.check, case, None))
            else:
                pending.append((len(results), self._ask(spec, helper, case)))
                results.append(None)
        if pending:
            done = await asyncio.gather(*(coro for _, coro in pending))
            for (slot, _), value in zip(pending, done, strict=True):
                results[slot] = value
        return [r for r in results if r is not None]

    async def _ask(self, spec: EvaluatorSpec, helper: _Helper, case: CaseOutput) -> EvaluatorResult:
        request = spec.evaluator.request(spec.check, case)
        try:
            answer = await helper.provider.ask(helper.model, helper.limiter, request)
        except helper.provider.errors as exc:
            return error_result(spec.name, helper.provider.failure(helper.model.id, exc))
        return spec.evaluator.score(spec.name, spec.check, case, answer)
