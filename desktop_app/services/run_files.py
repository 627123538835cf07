"""Run files: one evaluation as JSON lines under ``<data dir>/runs/<run id>.jsonl``.

A header line (format version, the run's facts, the suite as YAML, the options to resume with), one
``case`` line per finished case written as it finishes (so a crash loses at most the cases in flight),
a ``resume`` line each time a run is resumed, and an ``end`` line with the status. Reading is
tolerant: a line cut by a crash is skipped (that case runs again on resume); a file that is not a run
file, or whose header is damaged, is a clear :class:`InvalidInput`.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import secrets
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, TextIO

from desktop_app.core.errors import InvalidInput, StorageError
from desktop_app.core.evaluation import CaseResult, EvaluationRun, RunStatus
from desktop_app.core.models import utcnow
from desktop_app.core.suite import Suite
from desktop_app.services.context import AppContext
from desktop_app.store.faults import storage_problem

__all__ = [
    "MAX_RUN_FILE_BYTES",
    "RUN_FILE_VERSION",
    "RunFileData",
    "RunInfo",
    "RunWriter",
    "find_run",
    "list_runs",
    "load_run",
    "new_run_id",
    "past_runs",
    "read_run_file",
    "read_run_info",
    "runs_dir",
]

RUN_FILE_VERSION = 1
MAX_RUN_FILE_BYTES = 1 << 30  # a run of 100,000 long cases is far below; anything bigger is not ours


def runs_dir(ctx: AppContext) -> Path:
    return ctx.home / "runs"


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:40] or "suite"


def new_run_id(suite: Suite) -> str:
    name = suite.name or (Path(suite.path).name.split(".")[0] if suite.path else "suite")
    return f"{utcnow():%Y%m%d-%H%M%S}-{_slug(name)}-{secrets.token_hex(2)}"


def find_run(ctx: AppContext, ref: str) -> Path:
    """A run file by path, by run id, or by a unique prefix of a run id."""
    direct = Path(ref).expanduser()
    if direct.is_file() and (direct.suffix == ".jsonl" or os.sep in ref or "/" in ref):
        return direct  # a path; read_run_file says if it is not a run file
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
class RunFileData:
    header: dict[str, Any]
    cases: list[CaseResult]
    status: RunStatus
    finished_at: str | None
    skipped_lines: int


def read_run_file(path: Path) -> RunFileData:
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
    problem = header_problem(header)
    if problem:
        raise InvalidInput(f"The run file {path} is damaged: its header {problem}.")
    return RunFileData(header, cases, status, finished, skipped)


def header_problem(header: dict[str, Any]) -> str:
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
    data = read_run_file(Path(path))
    fields = dict(data.header["run"])
    fields.update(status=data.status, finished_at=data.finished_at, cases=[])
    run = EvaluationRun.model_validate(fields)
    for case in data.cases:
        run.add(case)
    return run


def list_runs(ctx: AppContext) -> list[Path]:
    folder = runs_dir(ctx)
    return sorted(folder.glob("*.jsonl")) if folder.is_dir() else []


@dataclass(frozen=True)
class RunInfo:
    """A run file's summary, read from its first and last lines only (a list of runs stays quick)."""

    path: Path
    run_id: str
    suite_name: str
    suite_hash: str
    started_at: datetime | None
    model_ids: tuple[str, ...]
    case_count: int
    status: RunStatus

    @property
    def resumable(self) -> bool:
        return self.status in (RunStatus.INTERRUPTED, RunStatus.CANCELLED)


def _last_line(path: Path, block: int = 8192) -> bytes:
    with open(path, "rb") as fh:
        fh.seek(0, os.SEEK_END)
        size = fh.tell()
        fh.seek(max(0, size - block))
        lines = [x for x in fh.read().splitlines() if x.strip()]
    return lines[-1] if lines else b""


def read_run_info(path: Path) -> RunInfo | None:
    """The summary of one run file; None when it is not a readable run file."""
    try:
        with open(path, encoding="utf-8") as fh:
            header = json.loads(fh.readline())
        run = header["run"]
        status = RunStatus.INTERRUPTED
        try:
            last = json.loads(_last_line(path))
            if isinstance(last, dict) and last.get("type") == "end":
                status = RunStatus(last.get("status", "interrupted"))
        except ValueError:
            pass
        started = run.get("started_at")
        return RunInfo(
            path=path,
            run_id=str(run["run_id"]),
            suite_name=str(run.get("suite_name") or ""),
            suite_hash=str(run.get("suite_hash") or ""),
            started_at=datetime.fromisoformat(started) if isinstance(started, str) else None,
            model_ids=tuple(run.get("model_ids") or ()),
            case_count=int(run.get("case_count") or 0),
            status=status,
        )
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None


def past_runs(ctx: AppContext) -> list[RunInfo]:
    """Every run in the data dir's ``runs/``, newest first. (Runs in MLflow come with tracking.)"""
    infos = [info for p in list_runs(ctx) if (info := read_run_info(p)) is not None]
    return sorted(infos, key=lambda i: (i.started_at is not None, i.started_at, i.run_id), reverse=True)


class RunWriter:
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


# --------------------------------------------------------------------------------------------- records
def header_record(run: EvaluationRun, suite: Suite, options: dict[str, Any]) -> dict[str, Any]:
    """The first line: what the run is, the suite it runs (as YAML) and the options to resume with."""
    from desktop_app.core.suite_dump import dump_suite

    return {
        "type": "header",
        "version": RUN_FILE_VERSION,
        "run": run.model_dump(mode="json", exclude={"cases"}),
        "suite_yaml": dump_suite(suite),
        "options": options,
    }


def resume_record(pending: int) -> dict[str, Any]:
    return {"type": "resume", "at": utcnow().isoformat(), "pending": pending}


def end_record(run: EvaluationRun) -> dict[str, Any]:
    finished = run.finished_at.isoformat() if run.finished_at else None
    return {"type": "end", "status": run.status.value, "finished_at": finished}


def case_line(case: CaseResult) -> str:
    return '{"type":"case","case":' + case.model_dump_json() + "}"
