"""The share app's catalog (no gradio): what is offered, filtered like the window, refused otherwise."""

from __future__ import annotations

from pathlib import Path

import pytest

from desktop_app.core.categories import DEFAULT_RULES
from desktop_app.core.errors import InvalidInput
from desktop_app.core.models import ModelStatus, ModelType, ServingType, SourceKind, UnifiedModel
from desktop_app.share.catalog import Catalog
from desktop_app.store.registry import Registry


def local(name: str, caps: list[str], **extra: object) -> UnifiedModel:
    cats = DEFAULT_RULES.for_capabilities(caps)
    return UnifiedModel(
        id=f"ollama/{name}", name=name, ollama_name=name, provider="ollama", category=cats[0],
        categories=cats, capabilities=caps, **extra,
    )  # fmt: skip


def remote(catalog_id: str, caps: list[str]) -> UnifiedModel:
    cats = DEFAULT_RULES.for_remote(catalog_id, caps)
    return UnifiedModel(
        id=f"work/{catalog_id}", name=catalog_id.split("/")[1], remote_id=catalog_id, provider="work",
        category=cats[0], categories=cats, capabilities=caps, source=SourceKind.OPENAI_COMPAT,
        serving_type=ServingType.REMOTE,
    )  # fmt: skip


@pytest.fixture
def registry(isolated_home: Path) -> Registry:
    reg = Registry(isolated_home / "registry.db")
    gpt = remote("openai/gpt-4.1", ["completion", "vision", "tools"])
    reg.upsert(
        [
            local("qwen3:8b", ["completion", "tools", "thinking"]),
            local("llava:7b", ["completion", "vision"]),
            local("nomic-embed-text:latest", ["embedding"]),
            local("old:1b", ["completion"], status=ModelStatus.OFFLINE),
            # An Ollama cloud model: listed by the local daemon, run on ollama.com.
            local("gpt-oss:120b-cloud", ["completion", "thinking"], serving_type=ServingType.HYBRID),
            gpt,
            # A variant of a remote model sends its requests to the remote service too.
            gpt.model_copy(
                update={"id": "exp/terse-gpt", "name": "terse-gpt", "model_type": ModelType.VARIANT,
                        "parent_id": gpt.id, "provider": "exp"}
            ),
        ]
    )  # fmt: skip
    return reg


def test_remote_models_and_their_variants_are_not_offered_without_permission(registry: Registry) -> None:
    catalog = Catalog(registry, allow_remote=False)
    ids = {f.id for f in catalog.facts()}
    assert ids == {"ollama/qwen3:8b", "ollama/llava:7b", "ollama/nomic-embed-text:latest", "ollama/old:1b"}
    assert catalog.hidden_remote == 3
    for ref in ("work/openai/gpt-4.1", "exp/terse-gpt", "ollama/nope"):
        with pytest.raises(InvalidInput, match="not one of the models shared here"):
            catalog.require(ref)
    assert catalog.search(serving="remote") == []
    labels = dict((v, k) for k, v in catalog.category_choices())
    assert labels["cloud_text"].endswith("(0)") and labels["all"] == "All (4)"
    allowed = Catalog(registry, allow_remote=True)
    assert allowed.require("exp/terse-gpt").parent_id == "work/openai/gpt-4.1"
    assert allowed.require("ollama/gpt-oss:120b-cloud").serving_type is ServingType.HYBRID
    assert {f.id for f in allowed.search(serving="remote")} == {
        "work/openai/gpt-4.1",
        "ollama/gpt-oss:120b-cloud",
    }


def test_search_is_the_windows_filter(registry: Registry) -> None:
    catalog = Catalog(registry, allow_remote=True)
    assert {f.id for f in catalog.search("multimodal")} == {
        "work/openai/gpt-4.1",
        "ollama/llava:7b",
        "exp/terse-gpt",  # a variant is in its base's categories
    }
    assert {f.id for f in catalog.search(text="QWEN tools")} == {"ollama/qwen3:8b"}
    assert {f.id for f in catalog.search(capabilities=["vision", "tools"])} == {
        "work/openai/gpt-4.1",
        "exp/terse-gpt",
    }
    # A source's name matches only as a prefix: "llama" does not find every model of "ollama".
    assert {f.id for f in catalog.search(text="llama")} == set()
    assert {f.id for f in catalog.search(text="olla")} >= {"ollama/qwen3:8b", "ollama/llava:7b"}
    table = Catalog.table(catalog.search(text="llava"))
    assert table == [["llava:7b", "LOCAL", "vision", "ollama", "available", "ollama/llava:7b"]]


def test_chat_offers_usable_chat_models_local_first(registry: Registry) -> None:
    catalog = Catalog(registry, allow_remote=True)
    ids = [i for _label, i in catalog.chat_models()]
    assert ids[:2] == ["ollama/llava:7b", "ollama/qwen3:8b"]  # local first, by name
    assert "ollama/nomic-embed-text:latest" not in ids and "ollama/old:1b" not in ids
    assert catalog.chat_models(limit=1) == [catalog.chat_models()[0]]
    assert catalog.reads_images("ollama/llava:7b") and not catalog.reads_images("ollama/qwen3:8b")


def test_a_change_by_another_process_is_seen_on_the_next_read(
    registry: Registry, isolated_home: Path
) -> None:
    catalog = Catalog(registry, allow_remote=False)
    assert len(catalog.facts()) == 4
    other = Registry(isolated_home / "registry.db")  # the window's sync, say
    other.upsert([local("gemma3:4b", ["completion", "vision"])])
    other.close()
    assert "ollama/gemma3:4b" in {f.id for f in catalog.facts()}
