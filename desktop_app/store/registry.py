"""The model registry: SQLite in WAL mode, shared by the window, the CLI and the Gradio process.

Each model row keeps a few indexed columns for filtering and the whole ``UnifiedModel`` as JSON, so
``list --json`` can stream stored JSON without re-validating 10,000 objects. Every write is one
transaction: a crash mid-sync leaves the previous content intact. (A streamed sync writes the models
the registry did not hold yet a batch at a time as they arrive, and takes them out again if it fails;
a crash in the middle leaves some of them, models the source did list. Changes, removals and the
source's state are one transaction at the end: see ``Staging``.)

Only a file SQLite calls not a database (or malformed), or someone else's SQLite file, is damaged: it is
moved aside to ``registry.db.corrupt-<timestamp>`` (under an inter-process lock, after checking again)
and a fresh one is made; ``moved_aside`` tells the caller where it went. A disk fault (full, read-only,
I/O error, locked) never moves anything: it becomes a ``RegistryError`` that says what to do, and a
read-only folder is opened read-only. Several processes may open a fresh data dir at once: the schema
is created under SQLite's write lock, deciding again inside it.
"""

from __future__ import annotations

import json
import os
import re
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import ExitStack, contextmanager, suppress
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from desktop_app.core.enums import ModelStatus, ModelType, SourceHealth
from desktop_app.core.errors import InvalidInput, ModelNotFound, RegistryError
from desktop_app.core.stored import StoredModel, stored_model
from desktop_app.store.faults import is_damaged, storage_problem
from desktop_app.store.filelock import file_lock
from desktop_app.store.paths import data_dir

if TYPE_CHECKING:
    from desktop_app.core.models import SourceState, UnifiedModel

# The pydantic models are imported on first use, not at import: `list --json` streams stored JSON
# and never needs them, which keeps its start-up well under half a second.


def _unified() -> type[UnifiedModel]:
    from desktop_app.core.models import UnifiedModel

    return UnifiedModel


def _source_state() -> type[SourceState]:
    from desktop_app.core.models import SourceState

    return SourceState


def utcnow() -> datetime:
    return datetime.now(UTC)


__all__ = ["SCHEMA_VERSION", "ModelFilter", "Registry", "Staging"]

SCHEMA_VERSION = 1
_APP_ID = 0x4D444B31  # "MDK1": marks the file as ours (PRAGMA application_id)
_PAGE_SIZE = 16384  # of a new registry file


def _v1(conn: sqlite3.Connection) -> None:
    # One execute per statement: executescript() would COMMIT the migration's transaction.
    for statement in (
        """CREATE TABLE models(
            id TEXT PRIMARY KEY,
            provider TEXT NOT NULL,
            model_type TEXT NOT NULL,
            serving_type TEXT NOT NULL,
            category TEXT NOT NULL,
            categories TEXT NOT NULL,
            capabilities TEXT NOT NULL,
            status TEXT NOT NULL,
            name TEXT NOT NULL,
            parent_id TEXT,
            search TEXT NOT NULL,
            data TEXT NOT NULL
        )""",
        "CREATE INDEX models_provider ON models(provider)",
        "CREATE INDEX models_parent ON models(parent_id)",
        "CREATE TABLE source_state(name TEXT PRIMARY KEY, data TEXT NOT NULL)",
    ):
        conn.execute(statement)


# Migration n takes a registry at schema n-1 to schema n. Append; never edit a released one.
MIGRATIONS: dict[int, Callable[[sqlite3.Connection], None]] = {1: _v1}


@dataclass(frozen=True)
class ModelFilter:
    category: str | None = None
    provider: str | None = None
    serving_type: str | None = None
    model_type: str | None = None
    search: str | None = None
    capability: str | None = None
    parent_id: str | None = None
    id_prefix: str | None = None  # ids starting so (read through the id index: only those rows)
    variants: bool = False  # only models that are not a source's base model (one pass, in SQL)


# The two timestamps sit side by side in a model's stored JSON, before "description" (UnifiedModel's
# field order): a model's JSON without them, in SQL, to tell whether a sync changed the model. Where the
# markers are missing the texts simply differ, and the row is written.
_STAMPS = re.compile(r'"created_at":"([^"]*)","updated_at":"[^"]*"')
_UNSTAMPED = (
    "(substr({0}, 1, instr({0}, '\"created_at\":') - 1) || substr({0}, instr({0}, ',\"description\":')))"
)


def _same_model(old: str | None, new: str) -> bool:
    """Whether two stored JSON texts hold the same model, timestamps aside (what ``_UNSTAMPED`` says)."""
    if old is None:
        return False
    a1, a2 = old.find('"created_at":'), old.find(',"description":')
    b1, b2 = new.find('"created_at":'), new.find(',"description":')
    if min(a1, a2, b1, b2) < 0:
        return False
    return old[:a1] == new[:b1] and old[a2:] == new[b2:]


def _restamp(new: str, old: str) -> str:
    """``new`` with ``old``'s ``created_at`` (a changed model keeps the time it first appeared)."""
    created, fresh = _STAMPS.search(old), _STAMPS.search(new)
    if created is None or fresh is None:
        return new
    return new[: fresh.start(1)] + created.group(1) + new[fresh.end(1) :]


class Staging:
    """A sync's rows on their way in (``Registry.stage``), ``add``-ed a batch at a time as they arrive.

    A model the registry does not hold yet goes straight in, each batch in its own short transaction
    (a first sync of 100,000 models writes each row once, and other writers never wait long); if the
    sync fails, ``abandon`` takes them out again. A model stored differently is staged in a temporary
    table and written by ``apply_staged`` (it keeps its ``created_at``); one stored exactly so already
    (timestamps aside) is only noted: a sync that changes nothing writes nothing."""

    def __init__(self, registry: Registry, provider: str, table: str) -> None:
        self.registry, self.provider, self.table = registry, provider, table
        self.ids: set[str] = set()
        self.inserted: list[str] = []  # ids this sync added to the registry
        self.known: set[str] = set()  # ids listed that the registry held already, as the source's
        self.written = 0  # model rows this sync wrote (added, changed, removed): 0 when nothing changed
        self._bulk = False  # holding the registry's automatic checkpoints off (``Registry._bulk``)
        self.closed = False  # applied or abandoned: a late ``add`` (from a thread) writes nothing

    def add(self, rows: Sequence[StoredModel]) -> None:
        if not rows:
            return
        ids = [r[0] for r in rows]
        self.ids.update(ids)
        reg = self.registry
        with reg._lock:
            if self.closed:
                return
            try:
                stored: dict[str, str] = {}
                for model_id, data, ours in reg._conn.execute(
                    f"SELECT id, data, provider = ? AND model_type = 'base' FROM models WHERE id IN ({_marks(ids)})",
                    [self.provider, *ids],
                ):
                    stored[model_id] = data
                    if ours:
                        self.known.add(model_id)
                new = [r for r in rows if r[0] not in stored]
                changed = [r for r in rows if r[0] in stored and not _same_model(stored[r[0]], r[-1])]
                if new:
                    changed += self._insert(new)
                if changed:
                    reg._conn.executemany(f"INSERT INTO {self.table}({_COLUMNS}) VALUES ({_MARKS})", changed)
            except sqlite3.Error as exc:
                raise reg._error(exc) from None

    def _insert(self, rows: list[StoredModel]) -> list[StoredModel]:
        """Write new models; those another process added since they were read come back, to stage."""
        reg = self.registry
        if not self._bulk:
            self._bulk = True
            reg._bulk(+1)
        with reg._tx() as conn:
            ids = [r[0] for r in rows]
            there = {r[0] for r in conn.execute(f"SELECT id FROM models WHERE id IN ({_marks(ids)})", ids)}
            fresh = [r for r in rows if r[0] not in there] if there else rows
            conn.executemany(_INSERT, fresh)
        self.inserted += (r[0] for r in fresh)
        reg.rows_written += len(fresh)
        self.written += len(fresh)
        return [r for r in rows if r[0] in there] if there else []

    def drop(self) -> None:
        reg = self.registry
        with reg._lock:
            self.closed = True
            with suppress(sqlite3.Error):
                reg._conn.execute(f"DROP TABLE IF EXISTS temp.{self.table}")
        if self._bulk:
            self._bulk = False
            reg._bulk(-1)

    def abandon(self) -> None:
        """The sync failed: take out the models it added (the registry is as before it) and drop the
        staged rows. Best effort: a registry that cannot be written now keeps them until the next sync."""
        reg = self.registry
        with reg._lock:
            self.closed = True
            if self.inserted:
                with suppress(RegistryError), reg._tx() as conn:
                    _delete(conn, self.inserted)
                    reg.rows_written += len(self.inserted)
                self.inserted = []
        self.drop()


def _marks(values: Sequence[object]) -> str:
    return ",".join("?" * len(values))


def _delete(conn: sqlite3.Connection, ids: Iterable[str]) -> None:
    conn.executemany("DELETE FROM models WHERE id = ?", [(i,) for i in ids])


_COLUMNS = (
    "id, provider, model_type, serving_type, category, categories, capabilities, status, name, parent_id,"
    " search, data"
)
_MARKS = ",".join("?" * 12)
assert tuple(c.strip() for c in _COLUMNS.split(",")) == StoredModel._fields  # a row is a StoredModel
_COLUMNS_DDL = ", ".join(f"{c.strip()} TEXT" for c in _COLUMNS.split(","))  # staging: no index to keep
_INSERT = f"INSERT OR REPLACE INTO models({_COLUMNS}) VALUES ({_MARKS})"


def _is_read_only_error(exc: BaseException) -> bool:
    code = int(getattr(exc, "sqlite_errorcode", 0) or 0) & 0xFF
    return code in (3, 8, 14)  # SQLITE_PERM, SQLITE_READONLY, SQLITE_CANTOPEN


def _is_busy(exc: BaseException) -> bool:
    code = int(getattr(exc, "sqlite_errorcode", 0) or 0) & 0xFF
    return code in (5, 6)  # SQLITE_BUSY, SQLITE_LOCKED


class _Damaged(Exception):
    """The file is not a ModelDesk registry (SQLite says it is not a database, or it is someone else's)."""


def _unique(target: Path) -> Path:
    """``target``, or ``target-2``, ``-3``… so moving a second damaged file never overwrites the first."""
    n = 1
    candidate = target
    while candidate.exists():
        n += 1
        candidate = target.with_name(f"{target.name}-{n}")
    return candidate


class Registry:
    def __init__(self, path: Path | None = None) -> None:
        self.path = path or data_dir() / "registry.db"
        self.moved_aside: Path | None = None
        self.read_only = False  # opened read-only because the folder cannot be written
        self._lock = threading.RLock()
        self._conn = self._open()
        self.rows_written = 0  # model rows this object inserted, replaced or deleted (tests read it)
        self._staged = 0
        self._bulk_writers = 0

    @property
    def notice(self) -> str | None:
        """What to tell the user when opening moved a damaged file aside (None otherwise)."""
        if self.moved_aside is None:
            return None
        return (
            f"The registry file was damaged and was moved to {self.moved_aside}; a fresh one was made. "
            "Run `modeldesk sync` to fill it again."
        )

    # ------------------------------------------------------------------ opening
    def _error(self, exc: BaseException) -> RegistryError:
        message, hint = storage_problem(exc, self.path)
        return RegistryError(message, hint=hint)

    def _connect(self, *, read_only: bool = False) -> sqlite3.Connection:
        try:
            if read_only:
                # A read-only folder cannot hold the WAL's -shm file: try a plain read-only open, then
                # an immutable one (nobody can write the file there either).
                try:
                    conn = self._connect_uri("mode=ro")
                    conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
                except sqlite3.Error:
                    conn = self._connect_uri("immutable=1")
            else:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                conn = sqlite3.connect(self.path, timeout=10, check_same_thread=False, isolation_level=None)
        except (OSError, sqlite3.Error) as exc:
            raise self._error(exc) from None
        conn.execute("PRAGMA busy_timeout = 10000")
        return conn

    def _connect_uri(self, query: str) -> sqlite3.Connection:
        uri = self.path.resolve().as_uri() + "?" + query
        return sqlite3.connect(uri, uri=True, timeout=10, check_same_thread=False, isolation_level=None)

    @property
    def _lock_path(self) -> Path:
        return self.path.with_name(f".{self.path.name}.lock")

    def _open(self) -> sqlite3.Connection:
        """Open and check the file, holding the open lock shared: a damaged file is moved aside only
        under the same lock held exclusively, so never while another process is between connecting
        and its first read. (A connection made to the old file just before the move would look for
        its journal or WAL by name, find the new file's, and play it into the old file or delete it:
        the new registry damaged, a healthy file moved aside next, "disk I/O error" meanwhile.)"""
        with ExitStack() as opening:
            with suppress(OSError):  # no lock file in a read-only folder: nothing is moved there either
                self.path.parent.mkdir(parents=True, exist_ok=True)
                opening.enter_context(file_lock(self._lock_path, shared=True))
            conn = self._connect()
            try:
                self._prepare(conn)
                return conn
            except (_Damaged, sqlite3.Error) as exc:
                conn.close()
                if not isinstance(exc, _Damaged) and not is_damaged(exc):
                    return self._open_read_only(exc)
        return self._replace_damaged()

    def _open_read_only(self, exc: BaseException) -> sqlite3.Connection:
        """The folder (or disk) refused a write while opening: read what is there if we can."""
        folder_refused = _is_read_only_error(exc) or not os.access(self.path.parent, os.W_OK)
        if not (self.path.is_file() and folder_refused):
            raise self._error(exc) from None
        try:
            conn = self._connect(read_only=True)
            self._check(conn, self._schema(conn))
        except (_Damaged, sqlite3.Error, RegistryError):
            raise self._error(exc) from None
        self.read_only = True
        return conn

    def _replace_damaged(self) -> sqlite3.Connection:
        """Move the damaged file aside and start afresh, under an inter-process lock and only after
        checking again: another process may have replaced it already, and its new file is not damaged."""
        try:
            with file_lock(self._lock_path):
                conn = self._connect()
                try:
                    self._prepare(conn)
                    return conn
                except (_Damaged, sqlite3.Error) as exc:
                    conn.close()
                    if not isinstance(exc, _Damaged) and not is_damaged(exc):
                        raise self._error(exc) from None
                self.moved_aside = self._move_aside()
                conn = self._connect()
                self._prepare(conn)
                return conn
        except (OSError, sqlite3.Error, _Damaged) as exc:
            raise self._error(exc) from None

    @staticmethod
    def _schema(conn: sqlite3.Connection) -> tuple[int, set[str], int]:
        """(application_id, tables, user_version), read in one transaction so they agree."""
        own = not conn.in_transaction
        if own:
            conn.execute("BEGIN")
        try:
            app_id = conn.execute("PRAGMA application_id").fetchone()[0]
            tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
            version = conn.execute("PRAGMA user_version").fetchone()[0]
        finally:
            if own and conn.in_transaction:
                conn.execute("COMMIT")
        return int(app_id), tables, int(version)

    def _check(self, conn: sqlite3.Connection, schema: tuple[int, set[str], int]) -> int:
        app_id, tables, version = schema
        if app_id not in (0, _APP_ID) or (app_id == 0 and tables):
            raise _Damaged("not a ModelDesk registry")
        if version > SCHEMA_VERSION:
            raise RegistryError(
                f"The registry {self.path} was written by a newer ModelDesk (schema {version}).",
                hint="Update ModelDesk, or set MODELDESK_HOME to another folder.",
            )
        return version

    def _prepare(self, conn: sqlite3.Connection) -> None:
        if self._check(conn, self._schema(conn)) < SCHEMA_VERSION:
            # A new file gets bigger pages than SQLite's 4 KB: a stored model is ~1 KB of JSON, and a
            # first sync of 100,000 models spends a quarter less writing them. SQLite ignores this for
            # a file that has tables already (or is in WAL mode): existing registries keep theirs.
            conn.execute(f"PRAGMA page_size = {_PAGE_SIZE}")
            # Migrate under the write lock, and decide again inside it: another process may have
            # made (or migrated) the registry since the read above.
            conn.execute("BEGIN IMMEDIATE")
            try:
                version = self._check(conn, self._schema(conn))
                for step in range(version + 1, SCHEMA_VERSION + 1):
                    MIGRATIONS[step](conn)
                if version < SCHEMA_VERSION:
                    conn.execute(f"PRAGMA application_id = {_APP_ID}")
                    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
                conn.execute("COMMIT")
            except BaseException:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise
        self._use_wal(conn)
        conn.execute("PRAGMA synchronous = NORMAL")
        # A cheap read proves the file is sound enough to use.
        conn.execute("SELECT count(*) FROM models").fetchone()

    @staticmethod
    def _use_wal(conn: sqlite3.Connection) -> None:
        """Switch to WAL (it stays set in the file). SQLite answers "locked" at once, without waiting,
        while another process opens the file too: retry a little, and else leave it to the next open."""
        for attempt in range(20):
            try:
                if conn.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
                    conn.execute("PRAGMA journal_mode = WAL")
                return
            except sqlite3.OperationalError as exc:
                if not _is_busy(exc):
                    raise
                time.sleep(0.005 * (attempt + 1))

    def _move_aside(self) -> Path:
        stamp = utcnow().strftime("%Y%m%dT%H%M%S")
        target = _unique(self.path.with_name(f"{self.path.name}.corrupt-{stamp}"))
        os.replace(self.path, target)
        for suffix in ("-wal", "-shm"):
            side = self.path.with_name(self.path.name + suffix)
            if side.exists():
                os.replace(side, target.with_name(target.name + suffix))
        return target

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    @contextmanager
    def _reading(self) -> Iterator[sqlite3.Connection]:
        """The connection, with a disk failure while reading turned into a clear RegistryError."""
        with self._lock:
            try:
                yield self._conn
            except sqlite3.Error as exc:
                raise self._error(exc) from None

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        """One write transaction. A full disk, a read-only folder or an I/O error rolls it back (the
        previous content stays) and becomes a RegistryError that says so."""
        with self._lock:
            try:
                self._conn.execute("BEGIN IMMEDIATE")
            except sqlite3.Error as exc:
                raise self._error(exc) from None
            try:
                yield self._conn
                self._conn.execute("COMMIT")
            except BaseException as exc:
                if self._conn.in_transaction:
                    with suppress(sqlite3.Error):  # SQLite may have rolled back already (full disk)
                        self._conn.execute("ROLLBACK")
                if isinstance(exc, sqlite3.Error):
                    raise self._error(exc) from None
                raise

    # ------------------------------------------------------------------ reading
    def _where(self, f: ModelFilter | None) -> tuple[str, list[str]]:
        if f is None:
            return "", []
        clauses: list[str] = []
        args: list[str] = []
        if f.category:
            clauses.append("categories LIKE ?")
            args.append(f"%,{f.category},%")
        if f.capability:
            clauses.append("capabilities LIKE ?")
            args.append(f"%,{f.capability},%")
        for column, value in (
            ("provider", f.provider),
            ("serving_type", f.serving_type),
            ("model_type", f.model_type),
            ("parent_id", f.parent_id),
        ):
            if value:
                clauses.append(f"{column} = ?")
                args.append(value)
        if f.id_prefix:
            clauses.append("id >= ? AND id < ?")
            args += [f.id_prefix, f.id_prefix[:-1] + chr(ord(f.id_prefix[-1]) + 1)]
        if f.variants:
            clauses.append("model_type != ?")
            args.append(ModelType.BASE.value)
        if f.search:
            for word in f.search.lower().split():
                clauses.append("search LIKE ? ESCAPE '\\'")
                escaped = word.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
                args.append(f"%{escaped}%")
        return (" WHERE " + " AND ".join(clauses)) if clauses else "", args

    def iter_json(self, f: ModelFilter | None = None) -> Iterator[str]:
        """Stored JSON of each matching model, ordered by id: the fast path for ``list --json``."""
        for batch in self.iter_json_batches(f):
            yield from batch

    def iter_json_batches(self, f: ModelFilter | None = None, size: int = 2000) -> Iterator[list[str]]:
        """``iter_json`` a batch at a time, read from one snapshot (a read transaction) without holding
        the whole registry in memory: ``list --json`` of 100,000 models streams."""
        where, args = self._where(f)
        with self._lock:
            own = not self._conn.in_transaction
            try:
                if own:
                    self._conn.execute("BEGIN")
                cursor = self._conn.execute(f"SELECT data FROM models{where} ORDER BY id", args)
                while True:
                    rows = cursor.fetchmany(size)
                    if not rows:
                        break
                    yield [r[0] for r in rows]
            except sqlite3.Error as exc:
                raise self._error(exc) from None
            finally:
                if own and self._conn.in_transaction:
                    with suppress(sqlite3.Error):
                        self._conn.execute("COMMIT")

    def list_models(self, f: ModelFilter | None = None) -> list[UnifiedModel]:
        return [_unified().model_validate_json(d) for d in self.iter_json(f)]

    def data_version(self) -> int:
        """Changes whenever another connection (the window's sync, the CLI) commits to the registry:
        a cheap way for a long-running reader (the Gradio process) to know when to read again."""
        with self._lock:
            return int(self._conn.execute("PRAGMA data_version").fetchone()[0])

    def count(self) -> int:
        with self._reading() as conn:
            return int(conn.execute("SELECT count(*) FROM models").fetchone()[0])

    def find(self, model_id: str) -> UnifiedModel | None:
        with self._reading() as conn:
            row = conn.execute("SELECT data FROM models WHERE id = ?", (model_id,)).fetchone()
        return _unified().model_validate_json(row[0]) if row else None

    def get(self, ref: str) -> UnifiedModel:
        """A model by id, or by name when the name is unique; a clear error otherwise."""
        found = self.find(ref)
        if found is not None:
            return found
        with self._reading() as conn:
            rows = conn.execute(
                "SELECT data FROM models WHERE name = ? OR id LIKE ? ORDER BY id", (ref, f"%/{ref}")
            ).fetchall()
        if len(rows) == 1:
            return _unified().model_validate_json(rows[0][0])
        if len(rows) > 1:
            ids = ", ".join(_unified().model_validate_json(r[0]).id for r in rows[:5])
            raise InvalidInput(f"{ref!r} matches several models ({ids}); give the full id.")
        raise ModelNotFound(
            f"No model {ref!r} in the registry.", hint="Run `modeldesk sync`, then `modeldesk list`."
        )

    # ------------------------------------------------------------------ writing
    def upsert(self, models: Iterable[UnifiedModel]) -> None:
        rows = [stored_model(m) for m in models]
        with self._tx() as conn:
            conn.executemany(_INSERT, rows)
            self.rows_written += len(rows)

    def delete(self, model_id: str) -> bool:
        with self._tx() as conn:
            cur = conn.execute("DELETE FROM models WHERE id = ?", (model_id,))
            return cur.rowcount > 0

    def apply_sync(
        self,
        provider: str,
        models: Sequence[UnifiedModel] | None,
        state: SourceState,
        *,
        still_configured: Callable[[], bool] | None = None,
    ) -> set[str] | None:
        """Record one source's sync in one transaction; returns the ids of the source's base models
        before it (so callers can tell what was added and removed without another read).

        ``still_configured`` is asked inside the write transaction: when the user removed the source
        while it was syncing, nothing is written (and None returned), so its models are never orphaned.
        A ``source rm`` either ran before (the check sees it) or waits for this transaction and then
        removes what it wrote.

        ``models`` given (healthy source): upsert them, keep each known model's ``created_at``, and remove
        base models that vanished from the source. ``models`` None (source failed): keep every model,
        marked ``offline`` (or ``retired``) with the reason; nothing is ever deleted by a failed sync.
        """
        now = utcnow()
        with self._tx() as conn:
            if still_configured is not None and not still_configured():
                return None
            existing = {
                row[0]: row[1]
                for row in conn.execute(
                    "SELECT id, json_extract(data, '$.created_at') FROM models"
                    " WHERE provider = ? AND model_type = ?",
                    (provider, ModelType.BASE.value),
                )
            }
            if models is not None:
                rows = []
                for m in models:
                    created = existing.get(m.id)
                    if created:
                        m = m.model_copy(
                            update={"created_at": datetime.fromisoformat(created), "updated_at": now}
                        )
                    rows.append(stored_model(m))
                conn.executemany(_INSERT, rows)
                present = {m.id for m in models}
                gone = set(existing) - present
                conn.executemany("DELETE FROM models WHERE id = ?", [(g,) for g in gone])
                rows = [stored_model(v) for v in self._variants_after_sync(conn, provider, present)]
                conn.executemany(_INSERT, rows)
            else:
                status = ModelStatus.RETIRED if state.health is SourceHealth.RETIRED else ModelStatus.OFFLINE
                rows = []
                for (data,) in conn.execute("SELECT data FROM models WHERE provider = ?", (provider,)):
                    m = _unified().model_validate_json(data)
                    m.status = status
                    m.status_message = state.message
                    rows.append(stored_model(m))
                conn.executemany(_INSERT, rows)
            conn.execute(
                "INSERT OR REPLACE INTO source_state(name, data) VALUES (?, ?)",
                (state.name, state.model_dump_json()),
            )
        return set(existing)

    def stage(self, provider: str) -> Staging:
        """A place to put a sync's rows as they arrive (a temporary table: SQLite keeps it on disk
        past a small cache, so a sync of 100,000 models does not hold them in memory); then
        ``apply_staged``."""
        with self._lock:
            self._staged += 1
            table = f"staged_{self._staged}"
            try:
                self._conn.execute(f"CREATE TEMP TABLE {table}({_COLUMNS_DDL})")
            except sqlite3.Error as exc:
                raise self._error(exc) from None
        return Staging(self, provider, table)

    def _bulk(self, step: int) -> None:
        """While a sync writes its new models a batch at a time, WAL checkpoints wait until it is
        done: SQLite's automatic one (every ~4 MB) would copy the WAL into the file and sync the disk
        some 25 times in a first sync of 100,000 models, instead of once (at the next commit after)."""
        with self._lock:
            before = self._bulk_writers
            self._bulk_writers += step
            if (before == 0) != (self._bulk_writers == 0):
                with suppress(sqlite3.Error):
                    self._conn.execute(f"PRAGMA wal_autocheckpoint = {0 if self._bulk_writers else 1000}")

    def apply_staged(
        self,
        staging: Staging,
        state: SourceState,
        *,
        still_configured: Callable[[], bool] | None = None,
    ) -> set[str] | None:
        """``apply_sync`` of a healthy source whose models were staged (``stage``): in one transaction,
        write the changed models (each keeps its ``created_at``; ``updated_at`` is when it last
        changed), remove those that left the source, settle its variants and record its state. The
        models it added were written while they arrived (``Staging``); they are taken out again when
        the source was removed meanwhile. Returns the ids of the source's base models before the sync."""
        provider, table = staging.provider, staging.table
        added = set(staging.inserted)
        try:
            with self._tx() as conn:
                if still_configured is not None and not still_configured():
                    _delete(conn, added)
                    self.rows_written += len(added)
                    staging.inserted = []
                    return None
                # When every model the registry holds for the source is one it listed now (the
                # usual case), none left it and it has no variants: nothing to read. Otherwise look.
                (held,) = conn.execute(
                    "SELECT count(*) FROM models WHERE provider = ?", (provider,)
                ).fetchone()
                listed = staging.known | added
                only_listed = held == len(listed)
                existing = (
                    listed
                    if only_listed
                    else {
                        row[0]
                        for row in conn.execute(
                            "SELECT id FROM models WHERE provider = ? AND model_type = ?",
                            (provider, ModelType.BASE.value),
                        )
                    }
                )
                conn.create_function("md_restamp", 2, _restamp, deterministic=True)
                cur = conn.execute(
                    f"INSERT OR REPLACE INTO models({_COLUMNS}) "
                    f"SELECT {', '.join('s.' + c.strip() for c in _COLUMNS.split(',')[:-1])}, "
                    "CASE WHEN m.data IS NULL THEN s.data ELSE md_restamp(s.data, m.data) END "
                    f"FROM {table} s LEFT JOIN models m ON m.id = s.id "
                    f"WHERE m.data IS NULL OR {_UNSTAMPED.format('m.data')} != {_UNSTAMPED.format('s.data')}"
                )
                written = max(cur.rowcount, 0)
                gone = existing - staging.ids
                if gone:
                    _delete(conn, gone)
                    written += len(gone)
                if not only_listed:
                    variants = [
                        stored_model(v) for v in self._variants_after_sync(conn, provider, staging.ids)
                    ]
                    if variants:
                        conn.executemany(_INSERT, variants)
                        written += len(variants)
                self.rows_written += written
                staging.written += written
                conn.execute(
                    "INSERT OR REPLACE INTO source_state(name, data) VALUES (?, ?)",
                    (state.name, state.model_dump_json()),
                )
            staging.inserted = []
        except BaseException:
            staging.abandon()
            raise
        finally:
            staging.drop()
        return existing - added

    @staticmethod
    def _variants_after_sync(
        conn: sqlite3.Connection, provider: str, present: set[str]
    ) -> list[UnifiedModel]:
        """A healthy sync also settles the status of the source's variants: available again when their
        base is there (or is another variant), ``error`` with the reason when the base left the source."""
        changed = []
        rows = conn.execute(
            "SELECT data FROM models WHERE provider = ? AND model_type != ?", (provider, ModelType.BASE.value)
        ).fetchall()
        for (data,) in rows:
            v = _unified().model_validate_json(data)
            parent = v.parent_id or ""
            parent_is_variant = not parent.startswith(f"{provider}/")
            if parent in present or parent_is_variant:
                status, message = ModelStatus.AVAILABLE, ""
            else:
                status, message = ModelStatus.ERROR, f"its base model {parent} is no longer on {provider}"
            if (v.status, v.status_message) != (status, message):
                v.status, v.status_message = status, message
                changed.append(v)
        return changed

    # ------------------------------------------------------------------ sources
    def source_states(self) -> dict[str, SourceState]:
        with self._reading() as conn:
            rows = conn.execute("SELECT data FROM source_state").fetchall()
        states = [_source_state().model_validate_json(r[0]) for r in rows]
        return {s.name: s for s in states}

    def forget_source(self, provider: str) -> int:
        """Remove a source's base models and state (when the user removes the source)."""
        with self._tx() as conn:
            cur = conn.execute(
                "DELETE FROM models WHERE provider = ? AND model_type = ?", (provider, ModelType.BASE.value)
            )
            conn.execute("DELETE FROM source_state WHERE name = ?", (provider,))
            return cur.rowcount

    def scrub(self, provider: str, secret: str, replacement: str) -> int:
        """Replace ``secret`` (e.g. a URL's ``user:password@``) in everything stored for a source:
        settings written before credentials were moved to the keyring left them in model records."""
        if not secret:
            return 0
        with self._tx() as conn:
            cur = conn.execute(
                "UPDATE models SET data = replace(data, ?1, ?2), search = replace(search, ?1, ?2) "
                "WHERE provider = ?3 AND instr(data, ?1) > 0",
                (secret, replacement, provider),
            )
            conn.execute(
                "UPDATE source_state SET data = replace(data, ?1, ?2) WHERE name = ?3",
                (secret, replacement, provider),
            )
            return cur.rowcount

    def kind_counts(self) -> list[tuple[str, str, str, str, int]]:
        """``(category, categories, model_type, serving_type, count)`` per kind of model, in one query:
        what the window's first paint needs to count models per category without reading them."""
        with self._reading() as conn:
            rows = conn.execute(
                "SELECT category, categories, model_type, serving_type, count(*) FROM models GROUP BY 1, 2, 3, 4"
            ).fetchall()
        return [(r[0], r[1], r[2], r[3], int(r[4])) for r in rows]

    def provider_counts(self) -> dict[str, int]:
        with self._reading() as conn:
            rows = conn.execute("SELECT provider, count(*) FROM models GROUP BY provider").fetchall()
        return {r[0]: int(r[1]) for r in rows}

    def dump_json(self) -> str:
        return "[" + ",".join(self.iter_json()) + "]"


def loads_models(text: str) -> list[UnifiedModel]:
    """Parse ``list --json`` output back (used by tests and the Gradio process)."""
    return [_unified().model_validate(x) for x in json.loads(text)]
