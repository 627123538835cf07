"""The MLflow outbox: evaluation runs waiting to be logged, kept in ``<data dir>/mlflow-outbox.json``.

A run goes in when it finishes and leaves only once MLflow has it, so a tracking server that is down,
slow or refusing loses nothing: the next ``eval``, ``sync`` or ``mlflow flush`` sends it. Logging is
idempotent by run id, so an entry sent twice (a crash between logging and removing it) is harmless.
The file is small and written atomically (temp file + rename); a damaged one is moved aside.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

from pydantic import BaseModel, Field, ValidationError

from desktop_app.core.models import utcnow
from desktop_app.store.filelock import file_lock

__all__ = ["Outbox", "OutboxEntry"]

OUTBOX_VERSION = 1


class OutboxEntry(BaseModel):
    run_id: str
    queued_at: str = Field(default_factory=lambda: utcnow().isoformat())
    attempts: int = 0
    last_error: str = ""


class _OutboxFile(BaseModel):
    version: int = OUTBOX_VERSION
    pending: list[OutboxEntry] = Field(default_factory=list)


class Outbox:
    """Read-modify-write of the outbox file, under a file lock so two processes never lose an entry."""

    def __init__(self, home: Path) -> None:
        self.path = home / "mlflow-outbox.json"
        self.moved_aside: Path | None = None

    def entries(self) -> list[OutboxEntry]:
        return self._load().pending

    def run_ids(self) -> list[str]:
        return [e.run_id for e in self.entries()]

    def add(self, run_id: str) -> None:
        with self._locked():
            data = self._load()
            if all(e.run_id != run_id for e in data.pending):
                data.pending.append(OutboxEntry(run_id=run_id))
                self._save(data)

    def remove(self, run_id: str) -> None:
        with self._locked():
            data = self._load()
            kept = [e for e in data.pending if e.run_id != run_id]
            if len(kept) != len(data.pending):
                data.pending = kept
                self._save(data)

    def failed(self, run_id: str, error: str) -> None:
        """Note a failed attempt (the entry stays)."""
        with self._locked():
            data = self._load()
            for e in data.pending:
                if e.run_id == run_id:
                    e.attempts += 1
                    e.last_error = error[:500]
            self._save(data)

    # ------------------------------------------------------------------ file
    def _load(self) -> _OutboxFile:
        try:
            text = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return _OutboxFile()
        try:
            raw = json.loads(text)
            return _OutboxFile.model_validate(raw)
        except (ValueError, ValidationError):
            stamp = utcnow().strftime("%Y%m%dT%H%M%S")
            target = self.path.with_name(f"{self.path.name}.corrupt-{stamp}")
            with contextlib.suppress(OSError):
                os.replace(self.path, target)
                self.moved_aside = target
            return _OutboxFile()

    def _save(self, data: _OutboxFile) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".outbox-", dir=self.path.parent)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                fh.write(data.model_dump_json(indent=1))
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, self.path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        """The data dir's inter-process file lock (``store.filelock``) around read-modify-write."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with file_lock(self.path.with_name(self.path.name + ".lock")):
            yield
