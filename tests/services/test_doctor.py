"""`doctor` per source: the keyring warning only where a key is kept."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from desktop_app.core.models import SourceConfig, SourceKind
from desktop_app.services.context import AppContext
from desktop_app.services.doctor import run_checks
from tests.fakes.openai_compat import FakeOpenAIServer


@pytest.fixture
async def ctx() -> AsyncIterator[AppContext]:
    context = AppContext.open()
    yield context
    await context.aclose()
    context.close()


async def test_keyring_warning_only_for_sources_that_keep_a_key(ctx: AppContext) -> None:
    assert ctx.keys.warning  # the tests run without a keyring (conftest)
    with FakeOpenAIServer() as local, FakeOpenAIServer(api_key="sk-remote-1234") as remote:
        local.flavor = "llama_cpp"
        ctx.settings.sources = [
            SourceConfig(name="llama", kind=SourceKind.OPENAI_COMPAT, base_url=local.url),
            SourceConfig(name="cloud", kind=SourceKind.OPENAI_COMPAT, base_url=remote.url),
        ]
        ctx.keys.set("cloud", "sk-remote-1234")
        checks = {c.name.split()[1]: c for c in await run_checks(ctx) if c.name.startswith("source ")}
    assert checks["llama"].level == "ok" and checks["llama"].hint == ""
    assert checks["cloud"].level == "warn" and checks["cloud"].hint == ctx.keys.warning
