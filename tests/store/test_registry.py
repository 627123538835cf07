from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from desktop_app.core.errors import InvalidInput, ModelNotFound, RegistryError
from desktop_app.core.models import (
    Category,
    ModelStatus,
    ModelType,
    ServingType,
    SourceHealth,
    SourceState,
    UnifiedModel,
)
from desktop_app.store.registry import ModelFilter, Registry


def model(provider: str, name: str, **kw: object) -> UnifiedModel:
    data: dict[str, object] = {
        "id": f"{provider}/{name}",
        "name": name,
        "provider": provider,
        "ollama_name": name,
        "categories": [Category.TEXT],
    }
    data.update(kw)
    return UnifiedModel.model_validate(data)


def ok(name: str, n: int = 0) -> SourceState:
    return SourceState(name=name, health=SourceHealth.OK, model_count=n)


def test_sync_replaces_base_models_and_keeps_created_at(tmp_path: Path) -> None:
    reg = Registry(tmp_path / "r.db")
    reg.apply_sync("h", [model("h", "a"), model("h", "b")], ok("h", 2))
    first_created = reg.get("h/a").created_at
    time.sleep(0.01)
    reg.apply_sync("h", [model("h", "a", description="new")], ok("h", 1))
    assert [m.id for m in reg.list_models()] == ["h/a"]
    a = reg.get("h/a")
    assert a.description == "new"
    assert a.created_at == first_created
    assert a.updated_at > first_created


def test_failed_sync_keeps_models_marked_offline_and_other_sources_untouched(tmp_path: Path) -> None:
    reg = Registry(tmp_path / "r.db")
    reg.apply_sync("h1", [model("h1", "a")], ok("h1"))
    reg.apply_sync("h2", [model("h2", "b")], ok("h2"))
    reg.apply_sync("h1", None, SourceState(name="h1", health=SourceHealth.DOWN, message="cannot connect"))
    a = reg.get("h1/a")
    assert a.status is ModelStatus.OFFLINE and a.status_message == "cannot connect"
    assert reg.get("h2/b").status is ModelStatus.AVAILABLE
    assert reg.source_states()["h1"].health is SourceHealth.DOWN
    # Coming back restores availability.
    reg.apply_sync("h1", [model("h1", "a")], ok("h1"))
    assert reg.get("h1/a").status is ModelStatus.AVAILABLE


def test_retired_source_marks_models_retired(tmp_path: Path) -> None:
    reg = Registry(tmp_path / "r.db")
    reg.apply_sync("gh", [model("gh", "openai/gpt-4.1", serving_type=ServingType.REMOTE)], ok("gh"))
    reg.apply_sync(
        "gh", None, SourceState(name="gh", health=SourceHealth.RETIRED, message="retired 2026-07-30")
    )
    m = reg.get("gh/openai/gpt-4.1")
    assert m.status is ModelStatus.RETIRED and "2026-07-30" in m.status_message


def test_sync_never_deletes_variants_and_settles_their_status(tmp_path: Path) -> None:
    reg = Registry(tmp_path / "r.db")
    reg.apply_sync("h", [model("h", "a")], ok("h"))
    reg.upsert(
        [
            model("h", "a-cold", id="exp/a-cold", model_type=ModelType.EXPERIMENTAL, parent_id="h/a"),
            model(
                "h", "a-colder", id="exp/a-colder", model_type=ModelType.EXPERIMENTAL, parent_id="exp/a-cold"
            ),
        ]
    )
    reg.apply_sync("h", None, SourceState(name="h", health=SourceHealth.DOWN, message="cannot connect"))
    assert reg.get("exp/a-cold").status is ModelStatus.OFFLINE  # its host is down: it cannot run either
    assert reg.get("exp/a-colder").status_message == "cannot connect"
    reg.apply_sync("h", [model("h", "a")], ok("h"))
    assert reg.get("exp/a-cold").status is ModelStatus.AVAILABLE
    assert reg.get("exp/a-colder").status is ModelStatus.AVAILABLE
    reg.apply_sync("h", [], ok("h"))
    cold = reg.find("exp/a-cold")
    assert cold is not None and cold.status is ModelStatus.ERROR and "h/a" in cold.status_message
    assert reg.find("h/a") is None


def test_filters_and_search(tmp_path: Path) -> None:
    reg = Registry(tmp_path / "r.db")
    reg.upsert(
        [
            model("h", "llava:7b", categories=[Category.MULTIMODAL, Category.TEXT], capabilities=["vision"]),
            model("h", "nomic_embed", categories=[Category.EMBEDDING], capabilities=["embedding"]),
            model("gh", "openai/gpt-4.1", categories=[Category.CLOUD_TEXT], serving_type=ServingType.REMOTE),
        ]
    )
    ids = lambda f: [m.id for m in reg.list_models(f)]  # noqa: E731
    assert ids(ModelFilter(category="multimodal")) == ["h/llava:7b"]
    assert ids(ModelFilter(capability="embedding")) == ["h/nomic_embed"]
    assert ids(ModelFilter(serving_type="remote")) == ["gh/openai/gpt-4.1"]
    assert ids(ModelFilter(search="GPT 4.1")) == ["gh/openai/gpt-4.1"]
    # LIKE wildcards in user text are literal.
    assert ids(ModelFilter(search="nomic_")) == ["h/nomic_embed"]
    assert ids(ModelFilter(search="%")) == []


def test_get_by_unique_name_and_clear_errors(tmp_path: Path) -> None:
    reg = Registry(tmp_path / "r.db")
    reg.upsert([model("h1", "a"), model("h2", "a"), model("h1", "b")])
    assert reg.get("b").id == "h1/b"
    with pytest.raises(InvalidInput, match="several models"):
        reg.get("a")
    with pytest.raises(ModelNotFound, match="modeldesk sync"):
        reg.get("zzz")


@pytest.mark.parametrize("content", [b"this is not a database at all" * 100, b""])
def test_corrupt_file_is_moved_aside(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "registry.db"
    path.write_bytes(content)
    reg = Registry(path)
    if content:
        assert reg.moved_aside is not None and reg.moved_aside.read_bytes() == content
        assert reg.moved_aside.name.startswith("registry.db.corrupt-")
    assert reg.count() == 0
    reg.upsert([model("h", "a")])
    assert reg.count() == 1


def test_foreign_sqlite_file_is_moved_aside_not_overwritten(tmp_path: Path) -> None:
    path = tmp_path / "registry.db"
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE photos(id INTEGER)")
    conn.execute("INSERT INTO photos VALUES (7)")
    conn.commit()
    conn.close()
    reg = Registry(path)
    assert reg.moved_aside is not None
    old = sqlite3.connect(reg.moved_aside)
    assert old.execute("SELECT id FROM photos").fetchall() == [(7,)]
    old.close()


def test_newer_schema_is_refused_not_destroyed(tmp_path: Path) -> None:
    path = tmp_path / "registry.db"
    Registry(path).close()
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA user_version = 99")
    conn.commit()
    conn.close()
    with pytest.raises(RegistryError, match="newer ModelDesk"):
        Registry(path)
    assert path.exists()


@pytest.mark.skipif(os.geteuid() == 0, reason="root can write anywhere")
def test_unwritable_folder_gives_a_clear_message(tmp_path: Path) -> None:
    folder = tmp_path / "ro"
    folder.mkdir()
    folder.chmod(0o500)
    with pytest.raises(RegistryError, match="MODELDESK_HOME"):
        Registry(folder / "registry.db")


def test_two_processes_share_the_registry(tmp_path: Path) -> None:
    a = Registry(tmp_path / "r.db")
    b = Registry(tmp_path / "r.db")
    a.upsert([model("h", "x")])
    assert b.get("h/x").name == "x"


WRITER = textwrap.dedent(
    """
    import sys
    from desktop_app.core.models import UnifiedModel, SourceState, SourceHealth
    from desktop_app.store.registry import Registry
    reg = Registry(__import__("pathlib").Path(sys.argv[1]))
    gen = 0
    while True:
        gen += 1
        models = [UnifiedModel(id=f"h/m{i}", name=f"m{i}", provider="h", description=f"gen{gen}")
                  for i in range(3000)]
        reg.apply_sync("h", models, SourceState(name="h", health=SourceHealth.OK))
        print(gen, flush=True)
    """
)


def test_kill_9_mid_sync_leaves_a_consistent_registry(tmp_path: Path) -> None:
    path = tmp_path / "r.db"
    proc = subprocess.Popen([sys.executable, "-c", WRITER, str(path)], stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    assert proc.stdout.readline().strip() == "1"  # one full sync is committed
    proc.stdout.readline()
    time.sleep(0.05)  # land somewhere inside a later transaction
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    reg = Registry(path)
    models = reg.list_models()
    assert len(models) == 3000
    assert len({m.description for m in models}) == 1, "a half-written sync must not be visible"


def test_a_new_registry_has_big_pages_and_an_existing_one_keeps_its_own(tmp_path: Path) -> None:
    """A stored model is ~1 KB of JSON: 16 KB pages make a big sync's writes a quarter cheaper. A file
    made with SQLite's default keeps its 4 KB pages (a WAL file's page size cannot change)."""
    reg = Registry(tmp_path / "new.db")
    reg.upsert([model("ollama", "a")])
    reg.close()
    old = tmp_path / "old.db"
    conn = sqlite3.connect(old)
    conn.execute("PRAGMA journal_mode = WAL")
    conn.close()
    reg = Registry(old)  # an empty WAL file: made by the registry as before
    reg.upsert([model("ollama", "a")])
    reg.close()
    for path, size in ((tmp_path / "new.db", 16384), (old, 4096)):
        conn = sqlite3.connect(path)
        assert conn.execute("PRAGMA page_size").fetchone()[0] == size
        conn.close()
    reopened = Registry(tmp_path / "new.db")
    assert [m.id for m in reopened.list_models()] == ["ollama/a"]
    reopened.close()


def test_id_prefix_and_variants_filters(tmp_path: Path) -> None:
    reg = Registry(tmp_path / "r.db")
    reg.upsert(
        [
            model("mlflow", "a"),
            model("mlflowx", "b"),
            model("ml", "flow0"),
            model("ollama", "c"),
            model("ollama", "v", model_type=ModelType.VARIANT, parent_id="ollama/c"),
            model("mlflow", "e", model_type=ModelType.EXPERIMENTAL),
        ]
    )
    assert [m.id for m in reg.list_models(ModelFilter(id_prefix="mlflow/"))] == ["mlflow/a", "mlflow/e"]
    assert [m.id for m in reg.list_models(ModelFilter(variants=True))] == ["mlflow/e", "ollama/v"]
    reg.close()


def test_a_batch_that_arrives_after_its_sync_was_abandoned_writes_nothing(tmp_path: Path) -> None:
    """A sync's batches go in from a thread that cannot be stopped: one that finishes after the sync
    failed (and took its models out) must not put models back, nor leave checkpoints held off."""
    from desktop_app.core.stored import stored_model

    reg = Registry(tmp_path / "r.db")
    staging = reg.stage("ollama")
    staging.add([stored_model(model("ollama", "a"))])
    assert reg.count() == 1
    staging.abandon()
    staging.add([stored_model(model("ollama", "b"))])
    assert reg.count() == 0
    assert reg._conn.execute("PRAGMA wal_autocheckpoint").fetchone()[0] == 1000
    reg.close()
