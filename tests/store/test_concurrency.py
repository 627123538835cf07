"""Several real ModelDesk processes on one data dir at once: nothing is lost, nothing is called damaged.

Processes are forked once and meet at a barrier before each round, so every round is a real race
between separate SQLite connections and file locks, not threads sharing one interpreter.
"""

from __future__ import annotations

import multiprocessing
import sys
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="uses fork to start the racers quickly")

ROUNDS = 25
RACERS = 4


def _open_fresh(barrier: Any, root: str, out: Any) -> None:
    from desktop_app.store.registry import Registry

    for i in range(ROUNDS):
        barrier.wait(timeout=60)
        try:
            reg = Registry(Path(root) / str(i) / "registry.db")
            out.put((i, str(reg.moved_aside or ""), reg.count()))
            reg.close()
        except Exception as exc:  # reported, so the test shows what went wrong
            out.put((i, f"{type(exc).__name__}: {exc}", -1))


def _race(target: Any, *args: Any) -> list[Any]:
    ctx = multiprocessing.get_context("fork")
    barrier = ctx.Barrier(RACERS)
    out = ctx.Queue()
    procs = [ctx.Process(target=target, args=(barrier, *args, out)) for _ in range(RACERS)]
    for p in procs:
        p.start()
    try:
        return [out.get(timeout=120) for _ in range(RACERS * ROUNDS)]
    finally:
        for p in procs:
            p.join(timeout=10)
            if p.is_alive():
                p.kill()


def test_processes_opening_a_fresh_data_dir_at_once_never_call_it_damaged(tmp_path: Path) -> None:
    for i in range(ROUNDS):
        (tmp_path / str(i)).mkdir()
    results = _race(_open_fresh, str(tmp_path))
    problems = [r for r in results if r[1] or r[2] != 0]
    assert problems == []
    assert not list(tmp_path.glob("*/*corrupt*"))


def _add_sources(barrier: Any, rank: int, out: Any) -> None:
    from desktop_app.core.models import SourceConfig, SourceKind
    from desktop_app.services.context import AppContext
    from desktop_app.services.sources import add_source

    for i in range(ROUNDS):
        barrier.wait(timeout=60)
        try:
            ctx = AppContext.open()  # as `modeldesk source add` does, once per command
            config = SourceConfig(name=f"s{rank}-{i}", kind=SourceKind.OLLAMA, base_url="http://127.0.0.1:9")
            add_source(ctx, config)
            ctx.close()
            out.put((i, "", 0))
        except Exception as exc:
            out.put((i, f"{type(exc).__name__}: {exc}", -1))


def _race_ranked(target: Any) -> list[Any]:
    ctx = multiprocessing.get_context("fork")
    barrier = ctx.Barrier(RACERS)
    out = ctx.Queue()
    procs = [ctx.Process(target=target, args=(barrier, rank, out)) for rank in range(RACERS)]
    for p in procs:
        p.start()
    try:
        return [out.get(timeout=120) for _ in range(RACERS * ROUNDS)]
    finally:
        for p in procs:
            p.join(timeout=10)
            if p.is_alive():
                p.kill()


def test_processes_adding_sources_at_once_keep_every_source() -> None:
    from desktop_app.store.settings import SettingsStore

    results = _race_ranked(_add_sources)
    assert [r for r in results if r[1]] == []
    names = {s.name for s in SettingsStore().load().sources}
    assert names == {"ollama"} | {f"s{rank}-{i}" for rank in range(RACERS) for i in range(ROUNDS)}


def test_the_file_lock_excludes_another_holder_and_times_out_clearly(tmp_path: Path) -> None:
    from desktop_app.store.filelock import LockTimeout, file_lock

    lock = tmp_path / ".lock"
    with file_lock(lock), pytest.raises(LockTimeout, match="held"), file_lock(lock, timeout=0.05):
        pass
    with file_lock(lock, timeout=0.05):  # released: free again
        pass


def test_processes_finding_one_damaged_registry_move_it_aside_once(tmp_path: Path) -> None:
    for i in range(ROUNDS):
        (tmp_path / str(i)).mkdir()
        (tmp_path / str(i) / "registry.db").write_bytes(b"not a database, " * 512)
    results = _race(_open_fresh, str(tmp_path))
    assert [r for r in results if r[1].startswith("RegistryError") or r[2] != 0] == []
    for i in range(ROUNDS):
        moved = list((tmp_path / str(i)).glob("registry.db.corrupt-*"))
        assert [p.read_bytes()[:16] for p in moved] == [b"not a database, "]  # once, and only the junk


def test_opening_the_registry_holds_the_move_lock_shared(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Between connecting and its first read an opener holds the lock a damaged file is moved under.
    (Moved meanwhile, that connection would find the new file's journal or WAL by name and play it
    into the old file: the fresh registry damaged, then moved aside too — seen 1 in ~150 races.)"""
    from desktop_app.store.filelock import LockTimeout, file_lock
    from desktop_app.store.registry import Registry

    lock = tmp_path / ".registry.db.lock"
    seen: list[str] = []
    prepare = Registry._prepare

    def checking(self: Registry, conn: Any) -> None:
        try:
            with file_lock(lock, timeout=0.01):
                seen.append("a mover could take it")
        except LockTimeout:
            seen.append("held")
        with file_lock(lock, timeout=0.01, shared=True):  # other openers are not kept waiting
            pass
        prepare(self, conn)

    monkeypatch.setattr(Registry, "_prepare", checking)
    Registry(tmp_path / "registry.db").close()  # a fresh file
    Registry(tmp_path / "registry.db").close()  # an existing one
    assert seen == ["held", "held"]


def test_a_damaged_registry_is_not_moved_while_another_process_is_opening_it(tmp_path: Path) -> None:
    """A process between connecting and its first read holds the open lock shared; the move waits for
    it. (Moved under it, that connection would find the new file's journal or WAL by name and play it
    into the old file: the fresh registry damaged, then moved aside as well.)"""
    import threading

    from desktop_app.store.filelock import file_lock
    from desktop_app.store.registry import Registry

    path = tmp_path / "registry.db"
    path.write_bytes(b"not a database, " * 512)
    opened: list[Registry] = []
    with file_lock(tmp_path / ".registry.db.lock", shared=True):  # as another process's open holds it
        opener = threading.Thread(target=lambda: opened.append(Registry(path)))
        opener.start()
        opener.join(timeout=0.5)
        assert opener.is_alive()  # waiting for the other opener, not moving the file from under it
        assert path.read_bytes()[:16] == b"not a database, "
        assert not list(tmp_path.glob("registry.db.corrupt-*"))
    opener.join(timeout=30)
    assert opened and opened[0].moved_aside is not None
    assert opened[0].moved_aside.read_bytes()[:16] == b"not a database, "
    assert opened[0].count() == 0
    opened[0].close()
