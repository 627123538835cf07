"""The share process's context refuses remote sources at the one door every request passes
(so an evaluation's judge or embedding model cannot reach a paid service either)."""

from __future__ import annotations

import pytest

from desktop_app.core.errors import InvalidInput
from desktop_app.core.models import SourceConfig, SourceKind
from desktop_app.share.context import ShareContext


@pytest.fixture
def share_ctx() -> ShareContext:
    ctx = ShareContext.open()
    assert isinstance(ctx, ShareContext)
    ctx.settings.sources = [
        SourceConfig(name="ollama", kind=SourceKind.OLLAMA, base_url="http://127.0.0.1:1"),
        SourceConfig(name="work", kind=SourceKind.OPENAI_COMPAT, base_url="http://127.0.0.1:1/v1"),
    ]
    return ctx


async def test_remote_sources_are_refused_unless_allowed(share_ctx: ShareContext) -> None:
    try:
        assert share_ctx.backend("ollama").config.name == "ollama"
        with pytest.raises(InvalidInput, match="--allow-remote"):
            share_ctx.backend("work")
        share_ctx.allow_remote = True
        assert share_ctx.backend("work").config.name == "work"
    finally:
        await share_ctx.aclose()
        share_ctx.close()
