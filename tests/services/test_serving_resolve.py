"""Where a model's requests go: variant chains, materialized variants, missing and retired bases."""

from __future__ import annotations

import pytest

from desktop_app.core.chat import ChatOptions
from desktop_app.core.errors import InvalidInput, ModelNotFound, ServiceRetired
from desktop_app.core.models import ModelStatus, ModelType, UnifiedModel
from desktop_app.core.variants import options_from_parameters
from desktop_app.services.context import AppContext
from desktop_app.services.serving import resolve


def base(name: str = "llama3.2:latest", **kw: object) -> UnifiedModel:
    return UnifiedModel.model_validate(
        {"id": f"ollama/{name}", "name": name, "provider": "ollama", "ollama_name": name, **kw}
    )


def variant(vid: str, parent: str, **kw: object) -> UnifiedModel:
    return UnifiedModel.model_validate(
        {
            "id": vid,
            "name": vid,
            "provider": "ollama",
            "model_type": ModelType.EXPERIMENTAL,
            "parent_id": parent,
            **kw,
        }
    )


@pytest.fixture
def ctx() -> AppContext:
    return AppContext.open()


def test_base_model_goes_to_its_own_name(ctx: AppContext) -> None:
    ctx.registry.upsert([base()])
    t = resolve(ctx, "ollama/llama3.2:latest")
    assert t.native_name == "llama3.2:latest" and t.system_prompt is None and t.options == ChatOptions()


def test_nearest_variant_settings_win_down_a_chain(ctx: AppContext) -> None:
    ctx.registry.upsert(
        [
            base(),
            variant(
                "exp/a",
                "ollama/llama3.2:latest",
                system_prompt="A",
                parameters={"temperature": 0.2, "seed": 1},
            ),
            variant("exp/b", "exp/a", parameters={"temperature": 0.9, "maxTokens": 50}),
        ]
    )
    t = resolve(ctx, "exp/b")
    assert t.native_name == "llama3.2:latest"
    assert t.system_prompt == "A"
    assert t.options == ChatOptions(temperature=0.9, seed=1, max_tokens=50)


def test_child_of_a_materialized_variant_keeps_its_own_settings(ctx: AppContext) -> None:
    ctx.registry.upsert(
        [
            base(),
            variant("exp/a", "ollama/llama3.2:latest", system_prompt="A", ollama_name="exp-a:latest"),
            variant("exp/b", "exp/a", system_prompt="B", parameters={"top_p": 0.5}),
        ]
    )
    t = resolve(ctx, "exp/b")
    assert t.native_name == "exp-a:latest"
    assert t.system_prompt == "B" and t.options == ChatOptions(top_p=0.5)
    own = resolve(ctx, "exp/a")  # the materialized model carries its own settings: none re-sent
    assert own.native_name == "exp-a:latest" and own.system_prompt is None and own.options == ChatOptions()


def test_missing_base_cycle_and_retired(ctx: AppContext) -> None:
    ctx.registry.upsert([variant("exp/orphan", "ollama/gone:latest")])
    with pytest.raises(ModelNotFound, match="no longer in the registry"):
        resolve(ctx, "exp/orphan")
    ctx.registry.upsert([variant("exp/x", "exp/y"), variant("exp/y", "exp/x")])
    with pytest.raises(InvalidInput, match="cycle"):
        resolve(ctx, "exp/x")
    ctx.registry.upsert([base("old:1b", status=ModelStatus.RETIRED, status_message="retired on 2026-07-30")])
    with pytest.raises(ServiceRetired, match="2026-07-30"):
        resolve(ctx, "ollama/old:1b")


def test_parameters_map_to_options() -> None:
    opts = options_from_parameters({"num_predict": 10, "stop": "###", "repeat_penalty": 1.1, "topP": 0.3})
    assert opts == ChatOptions(max_tokens=10, stop=["###"], top_p=0.3)
