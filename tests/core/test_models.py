from __future__ import annotations

import pytest
from pydantic import ValidationError

from desktop_app.core.chat import ChatOptions, PullProgress
from desktop_app.core.errors import RateLimited, ServiceRetired, SuiteError
from desktop_app.core.models import Category, ServingType, SourceConfig, SourceKind, UnifiedModel


def test_unified_model_round_trips_and_ignores_unknown_fields() -> None:
    m = UnifiedModel(
        id="ollama/x:latest", name="x:latest", provider="ollama", categories=[Category.TEXT, Category.TEXT]
    )
    assert m.categories == [Category.TEXT]
    data = m.model_dump(mode="json") | {"field_from_the_future": 1}
    assert UnifiedModel.model_validate(data) == m


@pytest.mark.parametrize("bad", ["", "has space", "-dash", "x" * 65, "a/b"])
def test_source_names_are_validated(bad: str) -> None:
    with pytest.raises(ValidationError):
        SourceConfig(name=bad, kind=SourceKind.OLLAMA, base_url="http://h:1")


def test_source_serving_type() -> None:
    assert (
        SourceConfig(name="o", kind=SourceKind.OLLAMA, base_url="http://h").serving_type is ServingType.LOCAL
    )
    assert (
        SourceConfig(name="g", kind=SourceKind.GITHUB_MODELS, base_url="http://h").serving_type
        is ServingType.REMOTE
    )


def test_options_merge_override_wins() -> None:
    merged = ChatOptions(temperature=0.2, seed=1).merged(ChatOptions(temperature=0.9, top_p=0.5))
    assert merged == ChatOptions(temperature=0.9, top_p=0.5, seed=1)


def test_pull_fraction_clamps() -> None:
    assert PullProgress(status="x", total=100, completed=150).fraction == 1.0
    assert PullProgress(status="x").fraction is None


def test_errors_carry_fields_and_hints() -> None:
    e = RateLimited("slow down", retry_after=3.5, source="gh")
    assert e.retry_after == 3.5 and e.source == "gh" and "retries" in str(e)
    r = ServiceRetired("gone", retired_on="2026-07-30", hint="add another")
    assert str(r) == "gone — add another"
    s = SuiteError("must be a list", file="a.prompt.yml", line=4, key="testData")
    assert str(s) == "a.prompt.yml:4: testData: must be a list"


def test_a_replys_total_never_reads_shorter_than_its_first_token() -> None:
    from desktop_app.core.chat import ChatMetrics

    line = ChatMetrics(ttft_s=0.02, total_s=0.04, completion_tokens=16).summary(total=True)
    assert "first token 0.02 s" in line and "total 0.04 s" in line
    assert "total 12.5 s" in ChatMetrics(ttft_s=0.5, total_s=12.5).summary(total=True)
