"""The evaluation runner: one suite over N models/variants × M test cases, concurrently.

- Every request goes through ``services.serving`` (so variants, materialized or not, resolve the same
  way as in chat), under a concurrency limit per source: an Ollama host runs 2 requests at a time by
  default; a remote source runs as many as its rate-limit tier allows (low 5, high 2, embeddings 5,
  custom 1); an OpenAI-compatible source, whose limits are unknown, runs one at a time (some servers,
  such as llama-cpp-python's, cut a running reply short when a second request comes in).
  ``concurrency`` overrides every limit, ``SourceConfig.options["concurrency"]`` one source's.
- A reply that is empty or was cut short is an error on its case (retryable), never a scored answer.
- A 429 never fails a case: the source is paused for the time the service asked for and the request
  is retried, for as long as it takes (the user can cancel and resume later).
- Each finished case is appended to a run file (JSON lines) under ``<data dir>/runs/`` at once, so a
  crash loses at most the cases in flight, and :meth:`EvaluationRunner.resume` finishes an
  interrupted or cancelled run (also running again cases that failed on a host that was down).
- ``cancel()`` (or cancelling the task) stops cleanly: cases in flight are dropped, finished ones kept.
- Judges (``llm``/``uses``) and embedding models are models from the registry, called the same way.

The results object is :class:`~desktop_app.core.evaluation.EvaluationRun`; ``on_progress`` receives an
:class:`EvalProgress` for each finished case and each rate-limit wait (the CLI draws its bars from
them; the window can hook the same callback). Nothing here knows about MLflow or Qt.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import os
import re
import secrets
import stat
import time
from collections import deque
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, TextIO

from desktop_app.core.chat import ChatChunk, ChatMessage, ChatOptions, ChatResult, ToolCall
from desktop_app.core.errors import (
    BadResponse,
    InvalidInput,
    ModelDeskError,
    ModelNotFound,
    RateLimited,
    SourceUnavailable,
    StorageError,
    StreamInterrupted,
    SuiteError,
)
from desktop_app.core.evaluation import CaseResult, EvaluationRun, RunStatus
from desktop_app.core.evaluators import (
    DEFAULT_JUDGE_MODEL,
    EvaluatorResult,
    builtin_judge,
    check_json,
    check_regex,
    check_string,
    cosine_similarity,
    embedding_result,
    error_result,
    judge_messages,
    judge_result,
)
from desktop_app.core.models import Category, ModelType, UnifiedModel, utcnow
from desktop_app.core.pools import is_pool_id
from desktop_app.core.suite import (
    EvaluatorKind,
    EvaluatorSpec,
    LlmJudge,
    Suite,
    dump_suite,
    parse_suite,
    render_template,
)
from desktop_app.core.tool_checks import check_tool_call
from desktop_app.core.variants import chain, collect_settings
from desktop_app.services import pools as pool_service
from desktop_app.services import serving
from desktop_app.services.context import AppContext
from desktop_app.services.retry import EVALUATION_RETRY, RateLimitRetry, Sleep
from desktop_app.services.tool_eval import SuiteTools
from desktop_app.store.faults import storage_problem

__all__ = [
    "TIER_CONCURRENCY",
    "EvalProgress",
    "EvaluationRunner",
    "SourceLimiter",
    "find_run",
    "list_runs",
    "load_run",
    "load_suite",
    "resolve_model_ref",
    "runs_dir",
]

TIER_CONCURRENCY = {"low": 5, "high": 2, "embeddings": 5, "custom": 1}
DEFAULT_REMOTE_TIER = "low"  # a remote source that names no tier is treated as GitHub's "low" tier
RUN_FILE_VERSION = 1
MAX_RUN_FILE_BYTES = 1 << 30  # a run of 100,000 long cases is far below; anything bigger is not ours
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


# --------------------------------------------------------------------------------------------- files
MAX_SUITE_BYTES = 16 * 1024 * 1024  # a suite is text a person wrote; 16 MB is far beyond any


def load_suite(path: str | Path, *, strict: bool = False) -> Suite:
    """Read and parse a ``.prompt.yml`` file (errors name the file, line and key). Only a regular
    file of at most :data:`MAX_SUITE_BYTES` is read: a FIFO would wait forever for a writer and
    ``/dev/zero`` never ends. ``strict`` refuses files gh runs but that are likely mistakes."""
    p = Path(path)
    try:
        info = p.stat()
        if stat.S_ISDIR(info.st_mode):
            raise IsADirectoryError
        if not stat.S_ISREG(info.st_mode):
            raise SuiteError(
                "is not a regular file (a pipe, a device or a socket); give a .prompt.yml file", file=str(p)
            )
        if info.st_size > MAX_SUITE_BYTES:
            raise SuiteError(_too_big(info.st_size), file=str(p))
        with open(p, "rb") as fh:
            raw = fh.read(MAX_SUITE_BYTES + 1)
        if len(raw) > MAX_SUITE_BYTES:  # it grew while being read
            raise SuiteError(_too_big(len(raw)), file=str(p))
        text = raw.decode("utf-8")
    except FileNotFoundError:
        raise SuiteError("no such file", file=str(p)) from None
    except IsADirectoryError:
        raise SuiteError("is a folder, not a .prompt.yml file", file=str(p)) from None
    except UnicodeDecodeError:
        raise SuiteError("is not UTF-8 text", file=str(p)) from None
    except OSError as exc:
        raise SuiteError(f"cannot be read ({exc.strerror or exc})", file=str(p)) from None
    return parse_suite(text, file=str(p), strict=strict)


def _too_big(size: int) -> str:
    return (
        f"is {size / 1024 / 1024:.0f} MB or more; a suite is read only up to "
        f"{MAX_SUITE_BYTES // 1024 // 1024} MB (put large test data in several suites)"
    )


def runs_dir(ctx: AppContext) -> Path:
    return ctx.home / "runs"


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:40] or "suite"


def _new_run_id(suite: Suite) -> str:
    name = suite.name or (Path(suite.path).name.split(".")[0] if suite.path else "suite")
    return f"{utcnow():%Y%m%d-%H%M%S}-{_slug(name)}-{secrets.token_hex(2)}"


def find_run(ctx: AppContext, ref: str) -> Path:
    """A run file by path, by run id, or by a unique prefix of a run id."""
    direct = Path(ref).expanduser()
    if direct.is_file() and (direct.suffix == ".jsonl" or os.sep in ref or "/" in ref):
        return direct  # a path; _read_run_file says if it is not a run file
    if os.sep in ref or "/" in ref or (os.altsep and os.altsep in ref) or direct.is_absolute():
        raise InvalidInput(f"No run file {ref}: it does not exist or is not a regular file.")
    folder = runs_dir(ctx)
    exact = folder / f"{ref}.jsonl"
    if exact.is_file():
        return exact
    matches = sorted(folder.glob(f"{_glob_escape(ref)}*.jsonl")) if folder.is_dir() else []
    if len(matches) == 1:
        return matches[0]
    if len(matches) > 1:
        names = ", ".join(m.stem for m in matches[:5])
        raise InvalidInput(f"{ref!r} matches several runs ({names}); give the whole run id.")
    recent = [p.stem for p in sorted(folder.glob("*.jsonl"))[-3:]] if folder.is_dir() else []
    hint = f" Recent runs: {', '.join(recent)}." if recent else ""
    raise InvalidInput(f"No run {ref!r} in {folder}.{hint}")


def _glob_escape(text: str) -> str:
    return re.sub(r"([*?\[\]])", r"[\1]", text)


@dataclass
class _RunFileData:
    header: dict[str, Any]
    cases: list[CaseResult]
    status: RunStatus
    finished_at: str | None
    skipped_lines: int


def _read_run_file(path: Path) -> _RunFileData:
    try:
        if path.stat().st_size > MAX_RUN_FILE_BYTES:
            raise InvalidInput(
                f"{path} is not a ModelDesk run file (it is over {MAX_RUN_FILE_BYTES >> 20} MB)."
            )
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise InvalidInput(f"Cannot read the run file {path}: {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise InvalidInput(f"{path} is not a ModelDesk run file (it is not UTF-8 text).") from None
    header: dict[str, Any] | None = None
    cases: list[CaseResult] = []
    status = RunStatus.INTERRUPTED
    finished: str | None = None
    skipped = 0
    for line in lines:
        if not line.strip():
            continue
        try:
            record = json.loads(line)
            kind = record.get("type")
            if kind == "header":
                header = record
            elif kind == "case":
                cases.append(CaseResult.model_validate(record["case"]))
                status = RunStatus.INTERRUPTED
            elif kind == "end":
                status = RunStatus(record.get("status", "interrupted"))
                finished = record.get("finished_at")
            elif kind == "resume":
                status = RunStatus.INTERRUPTED
        except (ValueError, KeyError, TypeError, AttributeError, RecursionError):
            skipped += 1  # a line cut by a crash: that case simply runs again on resume
    if header is None:
        raise InvalidInput(f"{path} is not a ModelDesk run file (it has no header line).")
    problem = _header_problem(header)
    if problem:
        raise InvalidInput(f"The run file {path} is damaged: its header {problem}.")
    return _RunFileData(header, cases, status, finished, skipped)


def _header_problem(header: dict[str, Any]) -> str:
    """What is wrong with a run file's header line, or "" (checked before anything trusts it)."""
    version = header.get("version", 1)
    if type(version) is not int:
        return f"has version {version!r}"
    run = header.get("run")
    if not isinstance(run, dict):
        return "has no run"
    if not isinstance(run.get("model_ids"), list) or not all(isinstance(m, str) for m in run["model_ids"]):
        return "has no list of models"
    if not isinstance(header.get("suite_yaml"), str):
        return "has no suite"
    if not isinstance(header.get("options", {}), dict):
        return "has options that are not an object"
    try:
        EvaluationRun.model_validate({**run, "cases": []})
    except ValueError as exc:  # pydantic's ValidationError is a ValueError
        return f"does not describe a run ({str(exc).splitlines()[0]})"
    return ""


def load_run(path: str | Path) -> EvaluationRun:
    """The results recorded in a run file (complete or not)."""
    data = _read_run_file(Path(path))
    fields = dict(data.header["run"])
    fields.update(status=data.status, finished_at=data.finished_at, cases=[])
    run = EvaluationRun.model_validate(fields)
    for case in data.cases:
        run.add(case)
    return run


def list_runs(ctx: AppContext) -> list[Path]:
    folder = runs_dir(ctx)
    return sorted(folder.glob("*.jsonl")) if folder.is_dir() else []


class _RunWriter:
    """Appends one JSON object per line and flushes it, so each finished case survives a crash.

    A failed write (full disk, read-only folder) is kept in ``failure`` rather than raised into the
    case that hit it; the runner then stops the run and raises it: the cases written so far stay, and
    ``eval --resume`` finishes the rest once there is room."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.failure: StorageError | None = None
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._fh: TextIO | None = open(path, "a", encoding="utf-8")  # noqa: SIM115  (closed in close())
        except OSError as exc:
            raise self._storage_error(exc) from None

    def _storage_error(self, exc: OSError) -> StorageError:
        message, hint = storage_problem(exc, self.path)
        return StorageError(
            f"{message} The evaluation stopped; the cases already in {self.path.name} are kept.",
            hint=f"{hint} Then `modeldesk eval --resume {self.path.stem}` runs the rest.",
        )

    def write(self, record: dict[str, Any]) -> None:
        self.write_line(json.dumps(record, ensure_ascii=False, default=str, separators=(",", ":")))

    def write_line(self, line: str) -> None:
        if self._fh is None or self.failure is not None:
            return
        try:
            self._fh.write(line + "\n")
            self._fh.flush()
        except OSError as exc:
            self.failure = self._storage_error(exc)

    def close(self, *, sync: bool = True) -> None:
        fh, self._fh = self._fh, None
        if fh is None:
            return
        try:
            fh.flush()
            if sync:
                os.fsync(fh.fileno())
        except OSError as exc:
            self.failure = self.failure or self._storage_error(exc)
        finally:
            with contextlib.suppress(OSError):  # the buffered tail cannot be written either
                fh.close()


# --------------------------------------------------------------------------------------------- models
def resolve_model_ref(ctx: AppContext, ref: str) -> UnifiedModel:
    """A registry model from an id (``ollama/llama3.2:latest``), a unique name, a catalog id as
    suites write them (``openai/gpt-4o``) or an Ollama name without its tag (``llama3.2``)."""
    ref = ref.strip()
    if not ref:
        raise InvalidInput("An empty model id was given.")
    try:
        return ctx.registry.get(ref)
    except ModelNotFound:
        pass
    tagged = ref if ":" in ref.rsplit("/", 1)[-1] else f"{ref}:latest"
    found = [
        m
        for m in ctx.registry.list_models()
        if ref in (m.remote_id, m.ollama_name) or tagged in (m.ollama_name, m.id, m.name)
    ]
    usable = [m for m in found if m.usable] or found
    if len(usable) == 1:
        return usable[0]
    if len(usable) > 1:
        ids = ", ".join(m.id for m in usable[:5])
        raise InvalidInput(f"{ref!r} matches several models ({ids}); give the full id.")
    raise ModelNotFound(
        f"No model {ref!r} in the registry.",
        hint="Run `modeldesk sync`, then `modeldesk list` to see the ids.",
    )


def _base_of(ctx: AppContext, model: UnifiedModel) -> UnifiedModel:
    last = model
    for m in chain(model, ctx.registry.find):
        last = m
    return last


def _default_limit(
    ctx: AppContext, model: UnifiedModel, concurrency: int | None
) -> tuple[tuple[str, str], int]:
    base = _base_of(ctx, model)
    try:
        config = ctx.settings.source(base.provider)
    except InvalidInput:
        config = None
    spec = config.spec if config is not None else None
    if spec is not None and spec.default_concurrency is not None and (spec.local or not base.rate_limit_tier):
        key, limit = (base.provider, "host"), spec.default_concurrency
    else:
        tier = (base.rate_limit_tier or DEFAULT_REMOTE_TIER).lower()
        key, limit = (base.provider, tier), TIER_CONCURRENCY.get(tier, TIER_CONCURRENCY[DEFAULT_REMOTE_TIER])
    if config is not None:
        configured = config.options.get("concurrency")
        if isinstance(configured, int) and not isinstance(configured, bool) and configured > 0:
            limit = configured
    if concurrency is not None:
        limit = concurrency
    return key, limit


def _hold_off(limiter: SourceLimiter) -> Sleep:
    """An evaluation's rate-limit wait: pause the source's limiter (every request to it holds off) and
    give the slot back; the next ``acquire`` waits the pause out."""

    async def pause(seconds: float) -> None:
        limiter.pause(seconds)

    return pause


class SourceLimiter:
    """At most ``limit`` requests at once to one source (or one tier of it), and a shared pause after
    a 429 so that the other requests to it hold off too. Counts in-flight requests for benchmarks.

    ``urgent`` requests (judging and embedding a case whose reply is already in) get the next free
    slot before new generations, so finished cases are scored and saved as the run goes instead of
    after every generation queued before them.
    """

    def __init__(self, key: tuple[str, str], limit: int) -> None:
        self.key = key
        self.limit = limit
        self._free = limit
        self._urgent: deque[asyncio.Future[None]] = deque()
        self._normal: deque[asyncio.Future[None]] = deque()
        self._paused_until = 0.0
        self.in_flight = 0
        self.max_in_flight = 0
        self.requests = 0
        self.rate_limited = 0
        self.busy_time = 0.0  # integral of in_flight over time (for mean achieved concurrency)
        self._first_change = 0.0
        self._last_change = 0.0

    def pause(self, seconds: float) -> None:
        self.rate_limited += 1
        self._paused_until = max(self._paused_until, time.monotonic() + seconds)

    async def acquire(self, *, urgent: bool = False) -> None:
        if self._free > 0 and not self._urgent and not self._normal:
            self._free -= 1
        else:
            queue = self._urgent if urgent else self._normal
            waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            queue.append(waiter)
            try:
                await waiter
            except asyncio.CancelledError:
                if waiter.done() and not waiter.cancelled():
                    self._hand_on()  # the slot was ours already: pass it on
                else:
                    with contextlib.suppress(ValueError):  # _hand_on may have dropped it already
                        queue.remove(waiter)
                raise
        try:
            while (delay := self._paused_until - time.monotonic()) > 0:
                await asyncio.sleep(delay)
        except BaseException:
            self._hand_on()
            raise
        self._account(+1)
        self.requests += 1

    def release(self) -> None:
        self._account(-1)
        self._hand_on()

    def _hand_on(self) -> None:
        """Give a free slot to the next waiter (urgent ones first), else keep it free."""
        for queue in (self._urgent, self._normal):
            while queue:
                waiter = queue.popleft()
                if not waiter.done():
                    waiter.set_result(None)
                    return
        self._free += 1

    @property
    def active_time(self) -> float:
        """Seconds from the first request's start to the last one's end."""
        return self._last_change - self._first_change if self._first_change else 0.0

    def _account(self, delta: int) -> None:
        now = time.perf_counter()
        if self._last_change:
            self.busy_time += self.in_flight * (now - self._last_change)
        else:
            self._first_change = now
        self._last_change = now
        self.in_flight += delta
        self.max_in_flight = max(self.max_in_flight, self.in_flight)


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
    """A judge or embedding model with its limiter."""

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
        _resume_from: _RunFileData | None = None,
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
        self._judges: dict[str, _Helper] = {}
        self._embedders: dict[str, _Helper] = {}
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
                run_id=run_id or _new_run_id(suite),
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
        self._embed_cache: dict[tuple[str, str], asyncio.Future[list[float]]] = {}
        self._writer: _RunWriter | None = None
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
        data = _read_run_file(path)
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
        key, limit = _default_limit(self.ctx, model, self.concurrency)
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
        for spec in self.suite.evaluators:
            if spec.needs_judge:
                judge = self._judge_spec(spec)
                ref = self.judge_ref or judge.model_id or DEFAULT_JUDGE_MODEL
                model = self._helper_model(ref, spec, "judge")
                self._judges[spec.name] = _Helper(model, self._limiter(model))
            elif spec.kind is EvaluatorKind.EMBEDDING and spec.embedding is not None:
                model = (
                    self._helper_model(spec.embedding.model_id, spec, "embedding model")
                    if spec.embedding.model_id
                    else self._default_embedder(spec)
                )
                self._embedders[spec.name] = _Helper(model, self._limiter(model))

    def _helper_model(self, ref: str, spec: EvaluatorSpec, role: str) -> UnifiedModel:
        try:
            model = resolve_model_ref(self.ctx, ref)
            serving.resolve(self.ctx, model)
            return model
        except ModelDeskError as exc:
            flag = "pass --judge ID" if role == "judge" else "set modelId under embedding_similarity"
            raise InvalidInput(
                f"Evaluator {spec.name!r}: the {role} {ref!r} cannot be used: {exc.message}",
                hint=f"Pick a model from `modeldesk list` and {flag}.",
            ) from None

    def _default_embedder(self, spec: EvaluatorSpec) -> UnifiedModel:
        from desktop_app.store.registry import ModelFilter

        found = [
            m
            for m in self.ctx.registry.list_models(ModelFilter(category=Category.EMBEDDING.value))
            if m.usable
        ]
        found.sort(key=lambda m: (not m.is_local, m.id))
        if not found:
            raise InvalidInput(
                f"Evaluator {spec.name!r} needs an embedding model and the registry has none.",
                hint="Pull one (e.g. `modeldesk pull nomic-embed-text`) "
                "or set modelId under embedding_similarity.",
            )
        return found[0]

    @staticmethod
    def _judge_spec(spec: EvaluatorSpec) -> LlmJudge:
        if spec.llm is not None:
            return spec.llm
        assert spec.builtin is not None
        return builtin_judge(spec.builtin)

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
        self._writer = writer = _RunWriter(self.run_path)
        try:
            if self._resumed is None:
                self._writer.write(self._header())
            else:
                self._writer.write({"type": "resume", "at": utcnow().isoformat(), "pending": len(todo)})
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
            self._writer.write(
                {"type": "end", "status": status.value, "finished_at": self.results.finished_at.isoformat()}
            )
        self._emit(self._progress("finished", None))

    def _header(self) -> dict[str, Any]:
        return {
            "type": "header",
            "version": RUN_FILE_VERSION,
            "run": self.results.model_dump(mode="json", exclude={"cases"}),
            "suite_yaml": dump_suite(self.suite),
            "options": {
                "concurrency": self.concurrency,
                "judge": self.judge_ref,
                "allow_tools": self.allow_tools,
            },
        }

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
            self._writer.write_line('{"type":"case","case":' + case.model_dump_json() + "}")
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
            sleep=_hold_off(limiter),
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
        results: list[EvaluatorResult | None] = []
        pending: list[tuple[int, Any]] = []
        for spec in self.suite.evaluators:
            if spec.kind is EvaluatorKind.TOOL_CALL and spec.tool_call is not None:
                results.append(check_tool_call(spec.name, spec.tool_call, calls, variables))
                continue
            if spec.kind is EvaluatorKind.STRING and spec.string is not None:
                results.append(check_string(spec.name, spec.string, output, variables))
            elif spec.kind is EvaluatorKind.REGEX and spec.regex is not None:
                results.append(check_regex(spec.name, spec.regex, output))
            elif spec.kind is EvaluatorKind.JSON and spec.json_check is not None:
                results.append(check_json(spec.name, spec.json_check, output))
            elif spec.kind is EvaluatorKind.INVALID:  # gh runs the file and fails this one
                results.append(error_result(spec.name, f"Error: {spec.problem}"))
            elif spec.needs_judge:
                pending.append((len(results), self._judge(spec, output, variables)))
                results.append(None)
            elif spec.kind is EvaluatorKind.EMBEDDING:
                pending.append((len(results), self._similarity(spec, output, variables)))
                results.append(None)
        if pending:
            done = await asyncio.gather(*(coro for _, coro in pending))
            for (slot, _), value in zip(pending, done, strict=True):
                results[slot] = value
        return [r for r in results if r is not None]

    async def _judge(self, spec: EvaluatorSpec, output: str, variables: dict[str, Any]) -> EvaluatorResult:
        helper = self._judges[spec.name]
        judge = self._judge_spec(spec)
        messages = judge_messages(judge, variables, output)
        try:
            reply, _, _ = await self._chat(helper.limiter, helper.model, messages, None, urgent=True)
        except ModelDeskError as exc:
            return error_result(spec.name, f"judge {helper.model.id} failed: {exc}")
        return judge_result(spec.name, judge, reply.content, helper.model.id)

    async def _similarity(
        self, spec: EvaluatorSpec, output: str, variables: dict[str, Any]
    ) -> EvaluatorResult:
        assert spec.embedding is not None
        helper = self._embedders[spec.name]
        expected = render_template(spec.embedding.expected, variables)
        try:
            a, b = await asyncio.gather(self._vector(helper, expected), self._vector(helper, output))
            similarity = cosine_similarity(a, b)
        except ModelDeskError as exc:
            return error_result(spec.name, f"embedding with {helper.model.id} failed: {exc}")
        except ValueError as exc:
            return error_result(spec.name, f"embedding with {helper.model.id} failed: {exc}")
        return embedding_result(spec.name, spec.embedding, similarity, helper.model.id)

    async def _vector(self, helper: _Helper, text: str) -> list[float]:
        key = (helper.model.id, text)
        future = self._embed_cache.get(key)
        if future is None:
            future = asyncio.get_running_loop().create_future()
            self._embed_cache[key] = future
            try:
                future.set_result(await self._embed(helper, text))
            except BaseException as exc:
                del self._embed_cache[key]
                if isinstance(exc, asyncio.CancelledError):
                    future.cancel()
                else:
                    future.set_exception(exc)
                    future.exception()  # retrieved here; this caller re-raises it
                raise
        return await asyncio.shield(future)

    async def _embed(self, helper: _Helper, text: str) -> list[float]:
        retry = RateLimitRetry(EVALUATION_RETRY, sleep=_hold_off(helper.limiter))
        while True:
            await helper.limiter.acquire(urgent=True)
            try:
                (vector,) = await serving.embed(self.ctx, helper.model, [text])
                return vector
            except RateLimited as exc:
                await retry.wait(exc)
            finally:
                helper.limiter.release()
