from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from desktop_app.core.categories import DEFAULT_RULES, CategoryRules, guess_publisher
from desktop_app.core.models import Category


@pytest.mark.parametrize(
    ("caps", "expected"),
    [
        (["embedding"], [Category.EMBEDDING]),
        (["completion", "vision"], [Category.MULTIMODAL, Category.TEXT]),
        (["completion", "tools", "thinking"], [Category.FUNCTION_CALLING, Category.REASONING, Category.TEXT]),
        (["completion"], [Category.TEXT]),
        ([], [Category.TEXT]),
        (["insert", "some-future-thing"], [Category.TEXT]),
        (["image"], [Category.MULTIMODAL]),  # image generation: not a text model (it cannot chat)
        (["completion", "audio"], [Category.MULTIMODAL, Category.TEXT]),
        (["completion", "vision", "audio"], [Category.MULTIMODAL, Category.TEXT]),
        (["VISION", " tools "], [Category.MULTIMODAL, Category.FUNCTION_CALLING]),
    ],
)
def test_capabilities_map_to_every_category_in_precedence_order(
    caps: list[str], expected: list[Category]
) -> None:
    assert DEFAULT_RULES.for_capabilities(caps) == expected


@pytest.mark.parametrize(
    ("catalog_id", "expected"),
    [
        ("openai/gpt-4.1", Category.CLOUD_TEXT),
        ("meta/llama-3.3-70b-instruct", Category.CLOUD_TEXT),
        ("deepseek/deepseek-r1", Category.CLOUD_CODE),
        ("microsoft/phi-4-multimodal-instruct", Category.CLOUD_MULTIMODAL),
        ("mistral-ai/mistral-small-2503", Category.CLOUD_GENERAL),
        ("OpenAI/GPT-4o", Category.CLOUD_TEXT),
        ("gpt-4o", Category.CLOUD_GENERAL),
    ],
)
def test_publisher_rules(catalog_id: str, expected: Category) -> None:
    assert DEFAULT_RULES.for_publisher(catalog_id) == expected


def test_remote_models_get_publisher_first_then_capabilities_without_plain_text() -> None:
    cats = DEFAULT_RULES.for_remote("openai/gpt-4.1", ["completion", "tools", "vision"])
    assert cats == [Category.CLOUD_TEXT, Category.MULTIMODAL, Category.FUNCTION_CALLING]


def test_experimental_comes_first_and_keeps_parent_categories() -> None:
    cats = DEFAULT_RULES.for_experimental([Category.REASONING, Category.TEXT])
    assert cats == [Category.EXPERIMENTAL, Category.REASONING, Category.TEXT]


def test_user_overrides_win_and_bad_names_are_rejected() -> None:
    rules = CategoryRules.with_overrides(
        {"capabilities": {"audio": "multimodal"}, "publishers": {"mistral-ai/*": "cloud_text"}}
    )
    assert rules.for_capabilities(["audio"]) == [Category.MULTIMODAL]
    assert rules.for_publisher("mistral-ai/mistral-small") == Category.CLOUD_TEXT
    with pytest.raises(ValueError):
        CategoryRules.with_overrides({"capabilities": {"audio": "not-a-category"}})


@given(st.lists(st.sampled_from(["embedding", "vision", "tools", "thinking", "completion", "insert", "x"])))
def test_primary_category_is_first_and_never_empty(caps: list[str]) -> None:
    cats = DEFAULT_RULES.for_capabilities(caps)
    assert cats, "every model lands somewhere"
    assert len(cats) == len(set(cats))
    order = [c for _, c in DEFAULT_RULES.capability_rules]
    assert cats == sorted(cats, key=order.index)


@pytest.mark.parametrize(
    ("name", "publisher", "category"),
    [
        ("gpt-4o-mini", "openai", Category.CLOUD_TEXT),
        ("o3-mini", "openai", Category.CLOUD_TEXT),
        ("Llama-3.3-70B-Instruct", "meta", Category.CLOUD_TEXT),
        ("deepseek-r1-distill-qwen-7b", "deepseek", Category.CLOUD_CODE),
        ("phi-4", "microsoft", Category.CLOUD_MULTIMODAL),
        ("qwen2.5-vl-7b-instruct", "alibaba", Category.CLOUD_GENERAL),
        ("my-finetune", None, Category.CLOUD_GENERAL),
        ("openrouter-org/some-model", "openrouter-org", Category.CLOUD_GENERAL),
    ],
)
def test_bare_ids_get_a_guessed_publisher(name: str, publisher: str | None, category: Category) -> None:
    assert guess_publisher(name) == publisher
    catalog_id = name if "/" in name or publisher is None else f"{publisher}/{name}"
    assert DEFAULT_RULES.for_publisher(catalog_id) == category
