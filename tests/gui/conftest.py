"""Fixtures for the window tests: a qasync loop driven by qtbot, hand-made registries, a window.

The loop runs inside pytest-qt's event processing (``QEventLoop(already_running=True)``): every
``qtbot.waitUntil`` / ``waitSignal`` also runs asyncio callbacks. Errors the loop reports are
collected and re-raised at teardown, so an exception in a task can never pass unnoticed.
"""

from __future__ import annotations

import asyncio
import gc
import sys
from collections.abc import Coroutine, Iterator
from typing import Any

import pytest
import qasync
from PySide6.QtWidgets import QApplication
from pytestqt.qtbot import QtBot

from desktop_app.core.categories import DEFAULT_RULES
from desktop_app.core.models import (
    ModelStatus,
    ModelType,
    ServingType,
    SourceConfig,
    SourceKind,
    UnifiedModel,
)
from desktop_app.services.context import AppContext


def local(name: str, caps: list[str], provider: str = "ollama", **extra: Any) -> UnifiedModel:
    cats = DEFAULT_RULES.for_capabilities(caps)
    return UnifiedModel(
        id=f"{provider}/{name}",
        name=name,
        ollama_name=name,
        provider=provider,
        category=cats[0],
        categories=cats,
        capabilities=caps,
        source=SourceKind.OLLAMA,
        serving_type=ServingType.LOCAL,
        local_endpoint="http://127.0.0.1:11434",
        **extra,
    )


def remote(catalog_id: str, caps: list[str], provider: str = "openrouter", **extra: Any) -> UnifiedModel:
    cats = DEFAULT_RULES.for_remote(catalog_id, caps)
    return UnifiedModel(
        id=f"{provider}/{catalog_id}",
        name=catalog_id.split("/", 1)[1],
        remote_id=catalog_id,
        provider=provider,
        category=cats[0],
        categories=cats,
        capabilities=caps,
        source=SourceKind.OPENAI_COMPAT,
        serving_type=ServingType.REMOTE,
        remote_endpoint="https://openrouter.example/v1",
        publisher=catalog_id.split("/", 1)[0],
        **extra,
    )


def variant(name: str, parent: UnifiedModel) -> UnifiedModel:
    cats = DEFAULT_RULES.for_experimental(parent.categories)
    return UnifiedModel(
        id=f"experimental/{name}",
        name=name,
        provider=parent.provider,
        category=cats[0],
        categories=cats,
        capabilities=parent.capabilities,
        model_type=ModelType.VARIANT,
        source=parent.source,
        serving_type=parent.serving_type,
        parent_id=parent.id,
        system_prompt="Answer like a pirate.",
        parameters={"temperature": 0.9},
    )


def hand_made_models() -> list[UnifiedModel]:
    """12 models over 8 categories: local, remote, one offline, one retired, one variant."""
    llama = local(
        "llama3.2:latest",
        ["completion", "tools"],
        parameter_size="3.2B",
        quantization="Q4_K_M",
        context_length=131072,
        size_bytes=2_019_393_189,
        family="llama",
        description="Meta's small multilingual model",
    )
    return [
        llama,
        local("qwen3:8b", ["completion", "tools", "thinking"], parameter_size="8.2B"),
        local("deepseek-r1:7b", ["completion", "thinking"]),
        local("llava:7b", ["completion", "vision"]),
        local("nomic-embed-text:latest", ["embedding"]),
        local(
            "phi3:mini",
            ["completion"],
            status=ModelStatus.OFFLINE,
            status_message="ollama: cannot connect to 127.0.0.1:11434",
        ),
        remote("openai/gpt-4.1", ["completion", "vision", "tools"], rate_limit_tier="high"),
        remote("openai/text-embedding-3-small", ["embedding"]),
        remote("meta/llama-3.3-70b-instruct", ["completion", "tools"]),
        remote(
            "deepseek/deepseek-r1",
            ["completion", "thinking"],
            status=ModelStatus.RETIRED,
            status_message="GitHub Models was retired on 2026-07-30",
        ),
        remote("mistral-ai/mistral-small", ["completion"]),
        variant("pirate-llama", llama),
    ]


@pytest.fixture
def qloop(qapp: QApplication) -> Iterator[asyncio.AbstractEventLoop]:
    from desktop_app.gui.app import configure_loop

    loop = qasync.QEventLoop(qapp, already_running=True)
    errors: list[dict[str, Any]] = []
    loop.set_exception_handler(lambda _loop, context: errors.append(context))
    old_interval = sys.getswitchinterval()
    old_hooks = configure_loop(loop)
    yield loop
    pending = [t for t in asyncio.all_tasks(loop) if not t.done()]
    for task in pending:
        task.cancel()
    if pending:
        QtBot(qapp).waitUntil(lambda: all(t.done() for t in pending), timeout=5000)
    gc.collect()  # streams left open are finalized by the loop, now, not by a later test
    closing = asyncio.ensure_future(loop.shutdown_asyncgens())
    QtBot(qapp).waitUntil(closing.done, timeout=5000)
    sys.set_asyncgen_hooks(*old_hooks)
    sys.setswitchinterval(old_interval)
    # Not loop.stop(): it calls QApplication.exit(), which would make every later QEventLoop.exec()
    # (qtbot.waitSignal) return at once for the rest of the session.
    loop._QEventLoop__is_running = False  # type: ignore[attr-defined]
    asyncio.events._set_running_loop(None)
    loop.close()
    if errors:
        first = errors[0]
        exc = first.get("exception")
        if isinstance(exc, BaseException):
            raise exc
        raise AssertionError(f"event loop error: {first.get('message')}")


@pytest.fixture
def run(qtbot: Any, qloop: asyncio.AbstractEventLoop) -> Any:
    """``run(coro_or_task, timeout=…)``: drive the Qt loop until it finishes; returns its result."""

    def runner(aw: Coroutine[Any, Any, Any] | asyncio.Future[Any], timeout: float = 10.0) -> Any:
        task = asyncio.ensure_future(aw)
        qtbot.waitUntil(task.done, timeout=int(timeout * 1000))
        return task.result()

    return runner


@pytest.fixture
def ctx(qloop: asyncio.AbstractEventLoop, qtbot: Any) -> Iterator[AppContext]:
    context = AppContext.open()
    context.settings.sources = []
    context.save_settings()
    yield context
    task = asyncio.ensure_future(context.aclose())
    qtbot.waitUntil(task.done, timeout=5000)
    context.close()


def point_ollama(ctx: AppContext, url: str, name: str = "ollama") -> None:
    ctx.settings.sources = [s for s in ctx.settings.sources if s.name != name]
    ctx.settings.sources.append(SourceConfig(name=name, kind=SourceKind.OLLAMA, base_url=url))
    ctx.save_settings()


@pytest.fixture
def make_window(qtbot: Any, ctx: AppContext, run: Any) -> Iterator[Any]:
    from desktop_app.gui.qt_main_window import QtMainWindow

    windows: list[QtMainWindow] = []

    def factory(models: list[UnifiedModel] | None = None, show: bool = True) -> QtMainWindow:
        window = QtMainWindow(ctx, models)
        # Stop its tasks while its widgets still exist (pytest-qt closes widgets before fixtures end).
        qtbot.addWidget(window, before_close_func=lambda w: run(w.shutdown()))
        windows.append(window)
        if show:
            window.show()
            qtbot.waitUntil(lambda: window.first_paint_done, timeout=5000)
        return window

    yield factory
