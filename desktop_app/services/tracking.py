"""MLflow tracking as ModelDesk uses it: where results go, the outbox, logging a run, variants.

- Tracking URI: ``$MLFLOW_TRACKING_URI``, else the settings' ``mlflow_tracking_uri``, else the
  embedded ``sqlite:///<data dir>/mlflow.db`` with artifacts in ``<data dir>/mlartifacts`` (no server
  needed). A remote server's token comes from the keyring (``modeldesk key set mlflow``).
- Every finished evaluation goes into the outbox (``store.outbox``) and leaves it once MLflow has it,
  so a server that is down, slow or refusing loses nothing; the next ``eval``, ``sync`` or
  ``mlflow flush`` sends it. Logging is idempotent by run id.
- The window never imports mlflow: :func:`spawn_logger` runs ``modeldesk mlflow _log RUN`` in a child
  process of ModelDesk's own executable (the PyInstaller bundle too). The CLI logs in-process.
- Variants are published to the Prompt Registry (:func:`publish_variants`, done by ``flush``) and read
  back by :func:`pull_variants` as ``source=mlflow`` experimental models (``mlflow/<name>``).
- ``$MODELDESK_NO_MLFLOW=1`` turns all of it off (what ``eval --no-mlflow`` does for one run).

Only ``adapters.mlflow_tracking`` imports mlflow, and only inside its functions.
"""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from desktop_app import __version__
from desktop_app.adapters import mlflow_tracking as mt
from desktop_app.core.errors import AuthError, InvalidInput, ModelDeskError, SourceUnavailable
from desktop_app.core.models import (
    Category,
    ModelStatus,
    ModelType,
    ServingType,
    SourceKind,
    UnifiedModel,
    utcnow,
)
from desktop_app.core.variants import chain, collect_settings
from desktop_app.services.context import AppContext
from desktop_app.store.outbox import Outbox
from desktop_app.store.registry import ModelFilter

__all__ = [
    "MLFLOW_ID_PREFIX",
    "FlushReport",
    "StatusReport",
    "child_command",
    "disabled",
    "embedded_db",
    "flush",
    "hand_off",
    "in_mlflow",
    "log_run",
    "model_facts",
    "outbox",
    "pull_variants",
    "queue_run",
    "spawn_logger",
    "spawn_sync",
    "status",
    "target",
    "worth_syncing",
]

MLFLOW_ID_PREFIX = "mlflow"
PUBLISHED_TAG = "mlflow"
KEY_REF = "mlflow"
NO_MLFLOW_ENV = "MODELDESK_NO_MLFLOW"


def disabled() -> bool:
    """``$MODELDESK_NO_MLFLOW`` set to anything but empty/0/false."""
    return os.environ.get(NO_MLFLOW_ENV, "").strip().lower() not in ("", "0", "false", "no")


def embedded_db(ctx: AppContext) -> Path:
    return ctx.home / "mlflow.db"


def _normalize(uri: str) -> str:
    uri = uri.strip()
    if uri.startswith("/"):  # a bare path: a SQLite file if it looks like one, else a folder store
        return f"sqlite:///{uri}" if uri.endswith(".db") else Path(uri).as_uri()
    return uri


def target(ctx: AppContext) -> mt.TrackingTarget:
    """Where this data dir logs to (see the module docstring)."""
    uri = os.environ.get("MLFLOW_TRACKING_URI", "").strip() or ctx.settings.preferences.mlflow_tracking_uri
    if not uri:
        return mt.TrackingTarget(uri=f"sqlite:///{embedded_db(ctx)}", artifact_root=ctx.home / "mlartifacts")
    uri = _normalize(uri)
    if uri.startswith("sqlite:///"):
        # Artifacts beside the database (MLflow's own default is ./mlruns in whatever folder
        # ModelDesk was started from).
        db = _sqlite_file(uri).expanduser().absolute()
        return mt.TrackingTarget(uri=uri, artifact_root=db.parent / "mlartifacts")
    token = ctx.keys.get(KEY_REF) if uri.startswith(("http://", "https://")) else None
    return mt.TrackingTarget(uri=uri, token=token or None)


def _sqlite_file(uri: str) -> Path:
    """The database file a ``sqlite:///…`` tracking URI names."""
    return Path(uri.removeprefix("sqlite:///"))


def outbox(ctx: AppContext) -> Outbox:
    return Outbox(ctx.home)


def check_embedded(ctx: AppContext, tgt: mt.TrackingTarget) -> str | None:
    """A damaged embedded ``mlflow.db`` is moved aside (never deleted); returns the notice to show."""
    path = embedded_db(ctx)
    if tgt.uri != f"sqlite:///{path}" or not path.exists():
        return None
    try:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            # Reading the schema finds a file that is not (or no longer) a database, without the
            # cost of a full integrity check of a store that grows with every evaluation.
            conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
        finally:
            conn.close()
        return None
    except sqlite3.DatabaseError:
        pass
    stamp = utcnow().strftime("%Y%m%dT%H%M%S")
    aside = path.with_name(f"{path.name}.corrupt-{stamp}")
    os.replace(path, aside)
    return (
        f"The MLflow store {path} was damaged and was moved to {aside}; a fresh one is made. "
        "Runs still in runs/ can be logged again with `modeldesk mlflow flush --all`."
    )


# --------------------------------------------------------------------------------------------- runs
def model_facts(ctx: AppContext, model_ids: list[str]) -> dict[str, mt.ModelFacts]:
    """What MLflow is told about each evaluated model, from the registry (models no longer there get
    their id only)."""
    out: dict[str, mt.ModelFacts] = {}
    for mid in model_ids:
        m = ctx.registry.find(mid)
        if m is None:
            out[mid] = mt.ModelFacts(model_id=mid)
            continue
        models = list(chain(m, ctx.registry.find))
        base = models[-1]
        system, options = collect_settings(x for x in models if x.model_type is not ModelType.BASE)
        out[mid] = mt.ModelFacts(
            model_id=mid,
            source=str(m.source),
            serving_type=m.serving_type.value,
            model_type=m.model_type.value,
            categories=tuple(c.value for c in m.categories or [m.category]),
            parameters=options.model_dump(exclude_none=True),
            system_prompt=system,
            base_model_id=base.id if base.id != mid else None,
        )
    return out


def log_run(ctx: AppContext, run_id: str, *, traces: bool = True) -> mt.LoggedEvaluation:
    """Log one run file to MLflow now, in this process (imports mlflow)."""
    from desktop_app.services.report import render_html
    from desktop_app.services.run_files import find_run, load_run, read_run_file

    path = find_run(ctx, run_id)
    run = load_run(path)
    suite_yaml = str(read_run_file(path).header.get("suite_yaml", ""))
    tgt = target(ctx)
    notice = check_embedded(ctx, tgt)
    if notice:
        ctx.notices.append(notice)
    mt.check_reachable(tgt)
    return mt.log_evaluation(
        tgt,
        run,
        model_facts(ctx, run.model_ids),
        suite_yaml=suite_yaml,
        report_html=render_html(run),
        version=__version__,
        traces=traces,
        judges=_judges(suite_yaml, run.judge),
    )


def _judges(suite_yaml: str, judge: str | None) -> dict[str, str]:
    """Which evaluators an LLM judged, and with which model (for the feedback's source)."""
    from desktop_app.core.evaluators import HelperRole
    from desktop_app.core.evaluators.llm import DEFAULT_JUDGE_MODEL
    from desktop_app.core.suite_parse import parse_suite

    try:
        suite = parse_suite(suite_yaml)
    except ModelDeskError:
        return {}
    out: dict[str, str] = {}
    for spec in suite.evaluators:
        need = spec.helper()
        if need is not None and need.role is HelperRole.JUDGE:
            out[spec.name] = judge or need.model_ref or DEFAULT_JUDGE_MODEL
    return out


def queue_run(ctx: AppContext, run_id: str) -> None:
    outbox(ctx).add(run_id)


@dataclass
class FlushReport:
    logged: dict[str, mt.LoggedEvaluation] = field(default_factory=dict)
    published: list[str] = field(default_factory=list)
    waiting: list[str] = field(default_factory=list)
    dropped: list[str] = field(default_factory=list)  # run files that no longer exist
    error: ModelDeskError | None = None


def flush(
    ctx: AppContext, *, on_logged: Callable[[str, mt.LoggedEvaluation], None] | None = None
) -> FlushReport:
    """Send every waiting run (oldest first) and publish unpublished variants. Stops at the first
    failure of the server itself (the rest wait too); a run that cannot be read is dropped."""
    report = FlushReport()
    box = outbox(ctx)
    pending = box.run_ids()
    if box.moved_aside is not None:
        ctx.notices.append(
            f"The MLflow outbox was damaged and was moved to {box.moved_aside}; "
            "`modeldesk mlflow flush --all` sends every run in runs/ again (nothing is logged twice)."
        )
    for i, run_id in enumerate(pending):
        try:
            result = log_run(ctx, run_id)
        except (SourceUnavailable, AuthError) as exc:
            box.failed(run_id, exc.message)
            report.error = exc
            report.waiting = pending[i:]
            return report
        except InvalidInput:  # the run file is gone or unreadable: nothing to send any more
            box.remove(run_id)
            report.dropped.append(run_id)
            continue
        box.remove(run_id)
        report.logged[run_id] = result
        if on_logged is not None:
            on_logged(run_id, result)
    try:
        report.published = publish_variants(ctx)
    except (SourceUnavailable, AuthError) as exc:
        report.error = exc
    return report


def child_command(*args: str) -> list[str]:
    """The command line that runs ``modeldesk ARGS`` with this very installation (frozen or not)."""
    if getattr(sys, "frozen", False):
        return [sys.executable, *args]
    return [sys.executable, "-m", "desktop_app", *args]


def spawn_logger(ctx: AppContext, run_id: str) -> subprocess.Popen[bytes]:
    """Queue the run and log it from a child process (what the window does: it never imports mlflow).
    The child flushes the whole outbox; its output goes to ``<data dir>/logs/mlflow.log``."""
    queue_run(ctx, run_id)
    return _spawn(ctx, "mlflow", "_log", run_id)


def hand_off(ctx: AppContext, run_id: str, *, finished: bool) -> subprocess.Popen[bytes] | None:
    """What a process that must not import mlflow (the window, the share app) does when a run ends:
    a finished run is logged now by a child process; a stopped one waits in the outbox until it is
    resumed and finished (or the next sync/flush), so it ends as one MLflow run, not two halves.
    None when tracking is off or the run only waits."""
    if disabled():
        return None
    if finished:
        return spawn_logger(ctx, run_id)
    queue_run(ctx, run_id)
    return None


def spawn_sync(ctx: AppContext) -> subprocess.Popen[bytes]:
    """`sync`'s MLflow part (send the outbox, publish variants, read the team's variants back into the
    registry) in a child process: the window runs it after its own sync."""
    return _spawn(ctx, "mlflow", "_sync")


def _spawn(ctx: AppContext, *args: str) -> subprocess.Popen[bytes]:
    logs = ctx.home / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ, MLFLOW_DISABLE_TELEMETRY="true", MODELDESK_HOME=str(ctx.home))
    with open(logs / "mlflow.log", "ab") as log:
        return subprocess.Popen(
            child_command(*args),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=log,
            env=env,
            start_new_session=True,
        )


def worth_syncing(ctx: AppContext) -> bool:
    """Whether `sync` should talk to MLflow: always for a tracking server; for the embedded store only
    once it exists or something waits for it (a fresh data dir does not make one on every sync)."""
    tgt = target(ctx)
    if tgt.is_remote or not tgt.uri.startswith("sqlite:///"):
        return True
    store = _sqlite_file(tgt.uri)  # the embedded default, or a team's shared file
    return store.exists() or bool(outbox(ctx).run_ids()) or bool(_unpublished(ctx))


# --------------------------------------------------------------------------------------------- status
@dataclass
class StatusReport:
    uri: str
    embedded: bool
    reachable: bool
    message: str
    waiting: list[str]
    unpublished: list[str]


def status(ctx: AppContext) -> StatusReport:
    tgt = target(ctx)
    waiting = outbox(ctx).run_ids()
    unpublished = [v.id for v in _unpublished(ctx)]
    if not tgt.is_remote:
        exists = embedded_db(ctx).exists()
        where = tgt.uri if exists else f"{tgt.uri} (made on first use)"
        return StatusReport(where, True, True, "embedded store", waiting, unpublished)
    try:
        mt.check_reachable(tgt)
        return StatusReport(tgt.display, False, True, "reachable", waiting, unpublished)
    except ModelDeskError as exc:
        return StatusReport(tgt.display, False, False, str(exc), waiting, unpublished)


# --------------------------------------------------------------------------------------------- variants
def _local_variants(ctx: AppContext) -> list[UnifiedModel]:
    # Asked by type in SQL, in one pass: validating every model of a 100,000-model registry took
    # seconds per sync.
    kinds = (ModelType.EXPERIMENTAL, ModelType.VARIANT)
    found = [m for m in ctx.registry.list_models(ModelFilter(variants=True)) if m.model_type in kinds]
    return sorted(
        (
            m
            for m in found
            if m.source is not SourceKind.MLFLOW and not m.id.startswith(f"{MLFLOW_ID_PREFIX}/")
        ),
        key=lambda m: m.id,
    )


def in_mlflow(model: UnifiedModel) -> bool:
    """A variant that came from MLflow, or that this data dir published there."""
    return model.source is SourceKind.MLFLOW or PUBLISHED_TAG in model.tags


def _unpublished(ctx: AppContext) -> list[UnifiedModel]:
    return [m for m in _local_variants(ctx) if PUBLISHED_TAG not in m.tags]


def publish_variants(ctx: AppContext, only: list[UnifiedModel] | None = None) -> list[str]:
    """Register each local variant not yet in MLflow (a changed variant becomes a new version)."""
    todo = only if only is not None else _unpublished(ctx)
    if not todo:
        return []
    tgt = target(ctx)
    mt.check_reachable(tgt)
    done: list[str] = []
    for v in todo:
        models = list(chain(v, ctx.registry.find))
        base = models[-1]
        system, options = collect_settings(x for x in models if x.model_type is not ModelType.BASE)
        number = mt.register_variant(
            tgt,
            v.name,
            system_prompt=system or "",
            base_model_id=base.id if base.model_type is ModelType.BASE else (v.parent_id or ""),
            parameters=options.model_dump(exclude_none=True),
            description=v.description,
        )
        tags = [*[t for t in v.tags if t != PUBLISHED_TAG], PUBLISHED_TAG]
        ctx.registry.upsert([v.model_copy(update={"tags": tags, "version": str(number)})])
        done.append(v.id)
    return done


def variant_versions(ctx: AppContext, name: str) -> mt.VariantPrompt | None:
    """The variant as MLflow's Prompt Registry has it (with every version number), or None."""
    for p in mt.list_variant_prompts(target(ctx)):
        if p.name == name:
            return p
    return None


def delete_in_mlflow(ctx: AppContext, name: str) -> bool:
    return mt.delete_variant_prompt(target(ctx), name)


@dataclass
class PullReport:
    added: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    unreachable_base: list[str] = field(default_factory=list)


def pull_variants(ctx: AppContext) -> PullReport:
    """Variants in the tracking store's Prompt Registry → ``mlflow/<name>`` experimental models under
    Experimental and their base's categories. Those whose base is missing or offline stay listed,
    marked plainly. Prompts this data dir published itself are its own ``exp/`` variants already."""
    report = PullReport()
    prompts = mt.list_variant_prompts(target(ctx))
    own = {v.name for v in _local_variants(ctx)}
    # Only the mlflow/ rows (every model read from MLflow has such an id), through the id index: before,
    # every model in the registry was validated to find them.
    known = {
        m.id: m
        for m in ctx.registry.list_models(ModelFilter(id_prefix=f"{MLFLOW_ID_PREFIX}/"))
        if m.source is SourceKind.MLFLOW
    }
    keep: set[str] = set()
    rows: list[UnifiedModel] = []
    for p in prompts:
        if p.name in own:
            continue
        mid = f"{MLFLOW_ID_PREFIX}/{p.name}"
        keep.add(mid)
        base = ctx.registry.find(p.base_model_id) if p.base_model_id else None
        model = _variant_model(ctx, p, mid, base)
        if model.status is not ModelStatus.AVAILABLE:
            report.unreachable_base.append(mid)
        old = known.get(mid)
        if old is None:
            report.added.append(mid)
        else:
            model = model.model_copy(update={"created_at": old.created_at})
            if old.version != model.version or old.status is not model.status:
                report.updated.append(mid)
            if model.model_dump(exclude={"updated_at"}) == old.model_dump(exclude={"updated_at"}):
                continue  # stored so already: not written again (a window then has nothing to reload)
        rows.append(model)
    if rows:
        ctx.registry.upsert(rows)
    for mid in set(known) - keep:
        if ctx.registry.delete(mid):
            report.removed.append(mid)
    return report


def _variant_model(ctx: AppContext, p: mt.VariantPrompt, mid: str, base: UnifiedModel | None) -> UnifiedModel:
    categories: list[Category]
    if base is not None:
        parent_cats: list[Category] = [c for c in base.categories if c != Category.EXPERIMENTAL]
        parent_cats = parent_cats or [base.category]
        categories = list(ctx.rules.for_experimental(parent_cats))
    else:
        categories = [Category.EXPERIMENTAL]
    if base is None:
        status, why = ModelStatus.OFFLINE, f"its base model {p.base_model_id} is not in this registry"
    elif base.status is not ModelStatus.AVAILABLE:
        status, why = ModelStatus.OFFLINE, f"its base model {base.id} is {base.status.value}"
    else:
        status, why = ModelStatus.AVAILABLE, ""
    provider = base.provider if base is not None else p.base_model_id.split("/", 1)[0]
    return UnifiedModel(
        id=mid,
        name=p.name,
        version=str(p.version),
        provider=provider,
        category=Category.EXPERIMENTAL,
        categories=categories,
        model_type=ModelType.EXPERIMENTAL,
        source=SourceKind.MLFLOW,
        serving_type=base.serving_type if base is not None else ServingType.REMOTE,
        capabilities=list(base.capabilities) if base is not None else [],
        parameters=p.parameters,
        system_prompt=p.system_prompt or None,
        parent_id=p.base_model_id or None,
        status=status,
        status_message=(f"Not runnable: {why}." if why else ""),
        description=p.description or f"MLflow prompt {p.name} v{p.version} on {p.base_model_id}",
        tags=["mlflow"],
    )
