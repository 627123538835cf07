"""`list --json` streams the registry a batch at a time (issue 17); its output is byte for byte what
it was when the whole list was read first."""

from __future__ import annotations

from pathlib import Path

import pytest

from desktop_app.cli import main
from desktop_app.core.models import Category, UnifiedModel
from desktop_app.store.registry import ModelFilter, Registry


def old_output(reg: Registry, f: ModelFilter | None = None) -> str:
    """How `list --json` wrote its output before it streamed."""
    items = list(reg.iter_json(f))
    return "[\n" + ",\n".join(items) + "\n]\n" if items else "[]\n"


def fill(home: Path, n: int) -> Registry:
    reg = Registry(home / "registry.db")
    cats = [[Category.TEXT], [Category.EMBEDDING], [Category.MULTIMODAL, Category.TEXT]]
    reg.upsert(
        UnifiedModel(
            id=f"h{i % 2}/m-{i:05d}:latest",
            name=f"m-{i:05d}:latest",
            provider=f"h{i % 2}",
            categories=cats[i % 3],
            category=cats[i % 3][0],
            description="naïve “quoted” model",
        )
        for i in range(n)
    )
    return reg


def test_streamed_output_is_what_it_was(isolated_home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    reg = fill(isolated_home, 4_500)  # more than two batches of 2,000
    assert main(["list", "--json"]) == 0
    assert capsys.readouterr().out == old_output(reg)
    assert main(["list", "--json", "--source", "h1", "--category", "embedding"]) == 0
    assert capsys.readouterr().out == old_output(reg, ModelFilter(category="embedding", provider="h1"))
    assert main(["list", "--json", "--search", "nothing-matches-this"]) == 0
    assert capsys.readouterr().out == "[]\n"
    reg.close()


def test_batches_come_from_one_snapshot(isolated_home: Path) -> None:
    reg = fill(isolated_home, 10)
    batches = reg.iter_json_batches(size=3)
    first = next(batches)
    other = Registry(isolated_home / "registry.db")
    other.delete(first[0].split('"id":"')[1].split('"')[0])  # another process writes meanwhile
    other.delete("h1/m-00009:latest")
    rest = [x for b in batches for x in b]
    assert len(first) + len(rest) == 10  # the read kept its snapshot
    assert reg.count() == 8
    other.close()
    reg.close()
