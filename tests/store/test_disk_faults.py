"""Disk faults are not damage: a full disk, a read-only folder or an I/O error never moves a healthy
registry aside, says what to do, and loses nothing.

CI runs as root (which ignores permissions) with no way to mount a small or read-only filesystem, so
the faults are real SQLite errors delivered at the one boundary the registry talks through:
``sqlite3.connect``. ``PRAGMA max_page_count`` makes SQLite itself answer SQLITE_FULL.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from desktop_app.core.errors import RegistryError
from desktop_app.core.models import SourceHealth, SourceState, UnifiedModel
from desktop_app.store.registry import Registry

REAL_CONNECT = sqlite3.connect


def models(n: int, note: str = "") -> list[UnifiedModel]:
    return [UnifiedModel(id=f"h/m{i}", name=f"m{i}", provider="h", description=note) for i in range(n)]


def ok() -> SourceState:
    return SourceState(name="h", health=SourceHealth.OK)


def healthy(path: Path, n: int = 5) -> None:
    reg = Registry(path)
    reg.apply_sync("h", models(n), ok())
    reg.close()


def real_error(make: Callable[[], object]) -> sqlite3.Error:
    try:
        make()
    except sqlite3.Error as exc:
        return exc
    raise AssertionError("SQLite did not fail")


def disk_full_error() -> sqlite3.Error:
    conn = REAL_CONNECT(":memory:")
    conn.execute("CREATE TABLE t(x)")
    conn.execute("PRAGMA max_page_count = 2")
    return real_error(lambda: conn.executemany("INSERT INTO t VALUES (?)", [("x" * 4000,)] * 10))


def cannot_open_error() -> sqlite3.Error:
    return real_error(lambda: REAL_CONNECT("file:/nonexistent-dir/r.db?mode=ro", uri=True))


class FailingConnection:
    """Answers the connection's own settings and fails the first statement that touches the file, as
    SQLite does when it cannot create the WAL's -shm (read-only folder) or write a page (full disk)."""

    in_transaction = False

    def __init__(self, error: sqlite3.Error) -> None:
        self.error = error

    def execute(self, sql: str, *args: Any) -> Any:
        if sql.startswith("PRAGMA busy_timeout"):
            return None
        raise self.error

    def close(self) -> None:
        pass


def no_moved_files(folder: Path) -> bool:
    return not [p for p in folder.iterdir() if "corrupt" in p.name]


def test_a_full_disk_during_sync_keeps_the_previous_content(tmp_path: Path) -> None:
    path = tmp_path / "registry.db"
    healthy(path)
    reg = Registry(path)
    pages = reg._conn.execute("PRAGMA page_count").fetchone()[0]
    reg._conn.execute(f"PRAGMA max_page_count = {pages}")  # no room for one more page
    with pytest.raises(RegistryError, match="disk is full") as info:
        reg.apply_sync("h", models(2000, "bigger"), ok())
    assert f"Free space in {tmp_path}" in str(info.value) and "nothing was lost" in str(info.value)
    reg.close()
    again = Registry(path)  # space freed
    assert again.count() == 5 and {m.description for m in again.list_models()} == {""}
    assert again.moved_aside is None and no_moved_files(tmp_path)


def test_a_full_disk_when_making_a_fresh_registry(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def tiny_disk(*args: Any, **kwargs: Any) -> sqlite3.Connection:
        conn = REAL_CONNECT(*args, **kwargs)
        conn.execute("PRAGMA max_page_count = 1")
        return conn

    monkeypatch.setattr(sqlite3, "connect", tiny_disk)
    with pytest.raises(RegistryError, match="disk is full"):
        Registry(tmp_path / "registry.db")
    assert no_moved_files(tmp_path)
    monkeypatch.setattr(sqlite3, "connect", REAL_CONNECT)
    assert Registry(tmp_path / "registry.db").count() == 0


@pytest.mark.parametrize("error", [disk_full_error, cannot_open_error])
def test_a_disk_error_at_open_never_moves_a_healthy_registry_aside(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, error: Callable[[], sqlite3.Error]
) -> None:
    path = tmp_path / "registry.db"
    healthy(path)
    exc = error()
    monkeypatch.setattr(sqlite3, "connect", lambda *a, **k: FailingConnection(exc))
    with pytest.raises(RegistryError, match=r"nothing was lost|nothing was moved"):
        Registry(path)
    assert no_moved_files(tmp_path)
    monkeypatch.setattr(sqlite3, "connect", REAL_CONNECT)
    assert Registry(path).count() == 5  # after the fault, everything is there


def read_only_folder(monkeypatch: pytest.MonkeyPatch) -> None:
    """SQLite in a read-only folder: every open fails at the first read (no -shm can be made) except
    an immutable one, which reads the file as it is."""
    exc = cannot_open_error()

    def connect(database: Any, *args: Any, uri: bool = False, **kwargs: Any) -> Any:
        if uri and "immutable=1" in str(database):
            return REAL_CONNECT(database, *args, uri=uri, **kwargs)
        return FailingConnection(exc)

    monkeypatch.setattr(sqlite3, "connect", connect)


def test_a_read_only_folder_is_read_and_writes_say_why_they_fail(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "registry.db"
    healthy(path)
    read_only_folder(monkeypatch)
    reg = Registry(path)
    assert reg.read_only and reg.count() == 5
    with pytest.raises(RegistryError, match="read-only"):
        reg.apply_sync("h", models(1), ok())
    assert no_moved_files(tmp_path)


def test_list_json_in_a_read_only_data_dir(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from desktop_app.cli import main
    from desktop_app.store.paths import data_dir

    healthy(data_dir() / "registry.db")
    read_only_folder(monkeypatch)
    assert main(["list", "--json"]) == 0
    out, err = capsys.readouterr()
    assert '"id":"h/m4"' in out and err == ""
    assert no_moved_files(data_dir())


def test_sync_on_a_full_disk_says_so_and_works_once_there_is_room(
    fake_ollama: Any, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from desktop_app.cli import main
    from desktop_app.core.models import SourceConfig, SourceKind
    from desktop_app.services.context import AppContext
    from tests.fakes.ollama import make_catalogue

    # More models than the empty registry's pages hold, whatever their size (a new registry's are 16 KB).
    fake_ollama.models[:] = make_catalogue(300)
    ctx = AppContext.open()
    ctx.settings.sources = [SourceConfig(name="ollama", kind=SourceKind.OLLAMA, base_url=fake_ollama.url)]
    ctx.save_settings()
    db = ctx.home / "registry.db"
    pages = ctx.registry._conn.execute("PRAGMA page_count").fetchone()[0]
    ctx.close()

    def full_disk(*args: Any, **kwargs: Any) -> sqlite3.Connection:
        conn = REAL_CONNECT(*args, **kwargs)
        conn.execute(f"PRAGMA max_page_count = {pages}")
        return conn

    monkeypatch.setattr(sqlite3, "connect", full_disk)
    assert main(["sync"]) == 1
    err = capsys.readouterr().err
    assert "The disk is full" in err and "nothing was lost" in err and "internal error" not in err
    monkeypatch.setattr(sqlite3, "connect", REAL_CONNECT)  # space freed
    assert main(["sync"]) == 0
    assert Registry(db).count() > 0 and no_moved_files(db.parent)


def test_list_in_a_read_only_data_dir_shows_the_models_and_says_why_nothing_is_saved(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import errno
    import tempfile

    from desktop_app.cli import main
    from desktop_app.store.paths import data_dir

    healthy(data_dir() / "registry.db")

    def read_only_fs(*args: Any, **kwargs: Any) -> Any:
        raise OSError(errno.EROFS, "Read-only file system")

    monkeypatch.setattr(tempfile, "TemporaryFile", read_only_fs)  # the data dir's write probe
    read_only_folder(monkeypatch)
    assert main(["list"]) == 0
    out, err = capsys.readouterr()
    assert "h/m4" in out and "Read-only file system" in err and "changes cannot be saved" in err
    assert no_moved_files(data_dir())
