"""Variant entries and grids (pure)."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from desktop_app.core.categories import DEFAULT_RULES
from desktop_app.core.chat import ChatOptions
from desktop_app.core.errors import InvalidInput
from desktop_app.core.models import Category, ModelType, ServingType, SourceKind, UnifiedModel
from desktop_app.core.variants import (
    GRID_AXES,
    SystemOption,
    VariantSpec,
    base_short_name,
    build_variant,
    chain,
    expand_grid,
    grid_size,
    ollama_parameters,
    parse_axis_values,
    validate_variant_name,
)


def llama() -> UnifiedModel:
    return UnifiedModel(
        id="ollama/llama3.2:latest",
        name="llama3.2:latest",
        ollama_name="llama3.2:latest",
        provider="ollama",
        category=Category.FUNCTION_CALLING,
        categories=[Category.FUNCTION_CALLING, Category.TEXT],
        capabilities=["completion", "tools"],
        context_length=131072,
        family="llama",
    )


def gpt() -> UnifiedModel:
    return UnifiedModel(
        id="azure/openai/gpt-4.1",
        name="gpt-4.1",
        remote_id="openai/gpt-4.1",
        provider="azure",
        source=SourceKind.OPENAI_COMPAT,
        serving_type=ServingType.REMOTE,
        category=Category.CLOUD_TEXT,
        categories=[Category.CLOUD_TEXT, Category.FUNCTION_CALLING],
        rate_limit_tier="high",
    )


def test_build_variant_links_parent_and_inherits() -> None:
    spec = VariantSpec(
        name="llama-cold", system_prompt="Be brief.", parameters=ChatOptions(temperature=0.1, seed=7)
    )
    v = build_variant(llama(), spec, DEFAULT_RULES)
    assert v.id == "exp/llama-cold"
    assert v.model_type is ModelType.EXPERIMENTAL
    assert v.parent_id == "ollama/llama3.2:latest"
    assert v.category is Category.EXPERIMENTAL
    assert v.categories == [Category.EXPERIMENTAL, Category.FUNCTION_CALLING, Category.TEXT]
    assert (v.provider, v.source, v.serving_type) == ("ollama", SourceKind.OLLAMA, ServingType.LOCAL)
    assert v.ollama_name is None  # not materialized yet
    assert v.parameters == {"temperature": 0.1, "seed": 7}
    assert v.system_prompt == "Be brief."
    assert v.capabilities == ["completion", "tools"]
    assert v.description == 'Variant of ollama/llama3.2:latest: temperature=0.1, seed=7, system "Be brief."'


def test_remote_variant_keeps_remote_serving_and_tier() -> None:
    v = build_variant(
        gpt(), VariantSpec(name="gpt-json", parameters=ChatOptions(max_tokens=100)), DEFAULT_RULES
    )
    assert (v.serving_type, v.provider, v.rate_limit_tier) == (ServingType.REMOTE, "azure", "high")
    assert v.categories == [Category.EXPERIMENTAL, Category.CLOUD_TEXT, Category.FUNCTION_CALLING]


def test_variant_of_a_variant_does_not_repeat_experimental() -> None:
    first = build_variant(llama(), VariantSpec(name="a"), DEFAULT_RULES)
    second = build_variant(first, VariantSpec(name="b"), DEFAULT_RULES)
    assert second.categories == [Category.EXPERIMENTAL, Category.FUNCTION_CALLING, Category.TEXT]
    assert second.parent_id == "exp/a"
    models = {m.id: m for m in (llama(), first, second)}
    assert [m.id for m in chain(second, models.get)] == ["exp/b", "exp/a", "ollama/llama3.2:latest"]


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (ChatOptions(temperature=-0.1), "temperature must be between 0 and 2, not -0.1."),
        (ChatOptions(temperature=3), "temperature must be between 0 and 2, not 3."),
        (ChatOptions(top_p=0), "top_p must be above 0 and at most 1, not 0."),
        (ChatOptions(top_k=0), "top_k must be 1 or more, not 0."),
        (ChatOptions(num_ctx=0), "num_ctx must be 1 or more, not 0."),
        (ChatOptions(stop=[""]), "a stop sequence cannot be empty."),
    ],
)
def test_bad_parameters_are_refused(options: ChatOptions, message: str) -> None:
    with pytest.raises(InvalidInput) as info:
        build_variant(llama(), VariantSpec(name="x", parameters=options), DEFAULT_RULES)
    assert info.value.message == message


@pytest.mark.parametrize("name", ["", "-x", "a b", "ü", "a/b", "x" * 81])
def test_bad_names_are_refused(name: str) -> None:
    with pytest.raises(InvalidInput, match="is not a valid variant name"):
        validate_variant_name(name)


def test_ollama_parameters_use_modelfile_names() -> None:
    assert ollama_parameters(ChatOptions(temperature=0.2, max_tokens=64, stop=["###"])) == {
        "temperature": 0.2,
        "num_predict": 64,
        "stop": ["###"],
    }


def test_base_short_names() -> None:
    assert base_short_name(llama()) == "llama3.2"
    assert base_short_name(gpt()) == "gpt-4.1"
    tagged = llama().model_copy(update={"ollama_name": "qwen3:8b", "id": "ollama/qwen3:8b"})
    assert base_short_name(tagged) == "qwen3-8b"


# ------------------------------------------------------------------------------------------ grids
def test_grid_names_are_readable_and_show_only_what_varies() -> None:
    specs = expand_grid(
        "llama3.2",
        {"temperature": [0.2, 0.7], "top_p": [0.9]},
        [SystemOption("concise", "Be concise."), SystemOption("Friendly Tone", "Be friendly.")],
    )
    assert [s.name for s in specs] == [
        "llama3.2-temp0.2-sys-concise",
        "llama3.2-temp0.2-sys-friendly-tone",
        "llama3.2-temp0.7-sys-concise",
        "llama3.2-temp0.7-sys-friendly-tone",
    ]
    assert specs[1].system_prompt == "Be friendly."
    assert specs[1].parameters == ChatOptions(temperature=0.2, top_p=0.9)


def test_grid_with_nothing_varying_names_every_value() -> None:
    specs = expand_grid("m", {"temperature": [0.5], "seed": [1]})
    assert [s.name for s in specs] == ["m-temp0.5-seed1"]


def test_grid_same_system_labels_are_made_unique() -> None:
    specs = expand_grid("m", {}, [SystemOption("a", "1"), SystemOption("a", "2"), SystemOption("", "3")])
    assert [s.name for s in specs] == ["m-sys-a", "m-sys-a-2", "m-sys-sys3"]


def test_grid_fixed_parameters_go_into_every_variant() -> None:
    specs = expand_grid("m", {"temperature": [0.1, 0.2]}, fixed=ChatOptions(num_ctx=4096, temperature=1.0))
    assert [s.parameters for s in specs] == [
        ChatOptions(num_ctx=4096, temperature=0.1),
        ChatOptions(num_ctx=4096, temperature=0.2),
    ]


def test_grid_errors() -> None:
    with pytest.raises(InvalidInput, match="needs at least one option to vary"):
        expand_grid("m", {})
    with pytest.raises(InvalidInput, match=r"makes 300 variants \(more than 256\)"):
        expand_grid("m", {"seed": list(range(100)), "top_k": [1, 2, 3]})
    with pytest.raises(InvalidInput, match="'stop' cannot vary in a grid"):
        expand_grid("m", {"stop": ["a"]})


def test_parse_axis_values() -> None:
    assert parse_axis_values("temperature", "0.2, 0.7,0.2") == (0.2, 0.7)
    assert parse_axis_values("top_k", "10,40") == (10, 40)
    with pytest.raises(InvalidInput) as info:
        parse_axis_values("top_k", "10,4.5")
    assert info.value.message == "--top-k takes whole numbers separated by commas, not '4.5'."
    with pytest.raises(InvalidInput, match="temperature must be between 0 and 2"):
        parse_axis_values("temperature", "0.2,9")
    with pytest.raises(InvalidInput, match="needs at least one value"):
        parse_axis_values("temperature", " , ")


_axis_values = {
    "temperature": st.floats(min_value=0, max_value=2, allow_nan=False).map(lambda x: round(x, 2)),
    "top_p": st.floats(min_value=0.01, max_value=1).map(lambda x: round(x, 2)),
    "top_k": st.integers(min_value=1, max_value=200),
    "num_ctx": st.integers(min_value=1, max_value=65536),
    "max_tokens": st.integers(min_value=1, max_value=4096),
    "seed": st.integers(min_value=0, max_value=10**6),
}


@st.composite
def grids(draw: st.DrawFn) -> tuple[dict[str, list[object]], list[SystemOption]]:
    chosen = draw(st.lists(st.sampled_from(sorted(GRID_AXES)), unique=True, max_size=4))
    axes: dict[str, list[object]] = {}
    for p in chosen:
        values = draw(st.lists(_axis_values[p], min_size=1, max_size=3, unique=True))
        axes[p] = values
    systems = [
        SystemOption(label, f"prompt {i}")
        for i, label in enumerate(draw(st.lists(st.sampled_from(["a", "b", "a", "Tone!", ""]), max_size=3)))
    ]
    return axes, systems


@settings(max_examples=120, deadline=None)
@given(grids())
def test_grid_size_is_the_product_of_option_counts(
    grid: tuple[dict[str, list[object]], list[SystemOption]],
) -> None:
    axes, systems = grid
    expected = math.prod(len(v) for v in axes.values()) * max(1, len(systems))
    assert grid_size(axes, systems) == expected
    if not axes and not systems:
        with pytest.raises(InvalidInput):
            expand_grid("base", axes, systems)
        return
    specs = expand_grid("base", axes, systems)
    assert len(specs) == expected
    assert len({s.name for s in specs}) == expected  # every generated name is distinct
    for s in specs:
        validate_variant_name(s.name)
        assert s.name.startswith("base")
    # every combination appears exactly once
    combos = {
        (tuple(sorted(s.parameters.model_dump(exclude_none=True).items())), s.system_prompt) for s in specs
    }
    assert len(combos) == expected
