"""Render the README screenshots against the fake servers: ``python -m desktop_app.gui.screenshots DIR``.

Starts a fake Ollama, a fake OpenAI-compatible service and a fake GitHub Models that has been retired,
points an isolated ``MODELDESK_HOME`` at them (no real keyring is touched), syncs, and saves
``main.png`` (tree and detail pane), ``chat.png`` (a reply with its thinking open and metrics),
``pull.png`` (the pull dialog mid-download), ``conversations.png`` (the kept conversations),
``dark.png`` (the dark theme), ``small.png`` (a 1024×700 window), ``variant-editor.png`` (a new variant
tried before saving), ``evaluate-running.png`` (per-model progress mid-run) and ``evaluate-results.png``
(the finished matrix and its chart; also ``evaluate-results-small.png`` at 1024×700) with
``QWidget.grab()``; with ``--pool``, only ``pool.png`` (three hosts, the pool's row; see ``pool_main``). ``MODELDESK_SHOTS_ALL=1`` also writes the review set: each size (1024×700,
1600×1000) in each theme. Run it from the repository root
(it imports ``tests.fakes``); ``make screenshots`` runs it under Xvfb.
"""

from __future__ import annotations

import asyncio
import os
import sys
import tempfile
from pathlib import Path
from typing import Any

__all__ = ["main"]

QUESTION = "Why is the sky blue? One short paragraph."
REPLY = (
    "Sunlight is a mix of every colour. On its way through the air it meets molecules far smaller than "
    "its wavelength, and those scatter short **blue** wavelengths much more strongly than long red "
    "ones (Rayleigh scattering, ∝ 1/λ⁴). Blue light is thrown around the whole sky, so wherever you look "
    "some of it reaches your eye — while the low sun at dusk, seen through more air, looks red."
)
THINKING = (
    "The user wants a short physical explanation. Key idea: Rayleigh scattering, intensity proportional to "
    "1/λ⁴, so blue scatters about 5× more than red. Mention why it is not violet (the sun emits less violet "
    "and our eyes are less sensitive to it) only if there is room. Keep it to one paragraph, no formulas "
    "beyond the proportionality."
)


EVAL_SUITE = """\
name: Why is the sky blue?
description: Short physics answers, checked for the key idea.
messages:
  - role: system
    content: You explain physics to curious people in one short paragraph.
  - role: user
    content: "{{question}}"
testData:
  - question: Why is the sky blue?
    expected: scatter
  - question: Why are sunsets red?
    expected: red
  - question: What is Rayleigh scattering?
    expected: wavelength
  - question: Why is the sky not violet?
    expected: blue
  - question: Would the sky be blue on Mars?
    expected: scatter
  - question: Why are clouds white?
    expected: white
  - question: Why does the sky get darker higher up?
    expected: air
  - question: Is the ocean blue for the same reason?
    expected: blue
evaluators:
  - name: names the key idea
    string:
      contains: "{{expected}}"
  - name: one paragraph
    regex:
      pattern: "^[^\\n]+$"
"""

VARIED_REPLIES = [
    REPLY,
    "The sky is blue because air molecules scatter short blue wavelengths of sunlight far more than red.",
    "Blue light bounces around the air more than red light, so blue reaches us from every direction.",
    "It is mostly the way light travels through the air: the shorter the wavelength, the more it is scattered.",
    "I am not sure; it may be the ocean reflecting in the sky.\nOr something else entirely.",
]


async def _until(predicate: Any, timeout: float = 15.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not predicate():
        if asyncio.get_running_loop().time() > deadline:
            raise TimeoutError("the window did not reach the expected state")
        await asyncio.sleep(0.02)


def _save(widget: Any, path: Path) -> None:
    widget.repaint()
    pixmap = widget.grab()
    if not pixmap.save(str(path)):
        raise OSError(f"could not write {path}")
    print(f"wrote {path} ({pixmap.width()}x{pixmap.height()})")


def main(argv: list[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if "--pool" in args:
        args.remove("--pool")
        return pool_main(Path(args[0] if args else "docs/screenshots").resolve())
    out = Path(args[0] if args else "docs/screenshots").resolve()
    out.mkdir(parents=True, exist_ok=True)
    home = Path(tempfile.mkdtemp(prefix="modeldesk-shots-"))
    os.environ["MODELDESK_HOME"] = str(home)
    os.environ["PYTHON_KEYRING_BACKEND"] = "keyring.backends.fail.Keyring"  # never the user's keyring
    os.environ.pop("GITHUB_TOKEN", None)
    os.environ.pop("OLLAMA_HOST", None)
    sys.path.insert(0, str(Path.cwd()))

    import random

    import qasync
    from PySide6.QtCore import QSize
    from PySide6.QtWidgets import QApplication

    from desktop_app.core.models import SourceConfig, SourceKind
    from desktop_app.gui import icons
    from desktop_app.gui.qt_main_window import QtMainWindow
    from desktop_app.gui.theme import apply_theme
    from desktop_app.services.context import AppContext
    from tests.fakes.github_models import FakeGitHubModels
    from tests.fakes.ollama import FakeOllama
    from tests.fakes.openai_compat import FakeOpenAIServer, new_test_key

    class VariedOllama(FakeOllama):
        """Replies vary per request once ``varied`` is set, so the results matrix shows a real mix."""

        varied: list[str] | None = None
        _rng = random.Random(7)

        @property
        def reply_text(self) -> str:
            return self._rng.choice(self.varied) if self.varied else self._reply

        @reply_text.setter
        def reply_text(self, value: str) -> None:
            self._reply = value

    ollama = VariedOllama()
    ollama.start()
    ollama.reply_text = REPLY
    ollama.thinking_text = THINKING
    ollama.ns_per_token = 21_000_000
    ollama.chunk_delay = 0.01
    openai_key = new_test_key()
    remote = FakeOpenAIServer(
        api_key=openai_key,
        models=[
            ("openai/gpt-4.1", "system"),
            ("openai/gpt-4o-mini", "system"),
            ("meta/llama-3.3-70b-instruct", "system"),
            ("deepseek/deepseek-r1", "system"),
            ("microsoft/phi-4-multimodal-instruct", "system"),
            ("mistral-ai/mistral-small-2503", "system"),
            ("openai/text-embedding-3-small", "system"),
        ],
    ).start()
    github_key = new_test_key("ghp")
    github = FakeGitHubModels(api_key=github_key).start()

    existing = QApplication.instance()
    app = existing if isinstance(existing, QApplication) else QApplication(sys.argv[:1])
    app.setApplicationName("ModelDesk")
    app.setWindowIcon(icons.app_icon())
    apply_theme(app, "light")

    ctx = AppContext.open()
    ctx.settings.sources = [
        SourceConfig(name="ollama", kind=SourceKind.OLLAMA, base_url=ollama.url),
        SourceConfig(name="openrouter", kind=SourceKind.OPENAI_COMPAT, base_url=remote.url),
        SourceConfig(name="github", kind=SourceKind.GITHUB_MODELS, base_url=github.url),
    ]
    ctx.save_settings()
    ctx.keys.set("openrouter", openai_key)
    ctx.keys.set("github", github_key)

    window = QtMainWindow(ctx)
    window.resize(1560, 920)
    window.splitter.setSizes([640, 360, 560])

    async def shoot() -> None:
        window.show()
        await _until(lambda: window.first_paint_done)
        # First sync with GitHub Models still answering, then again after its retirement: its models
        # stay, greyed, with the reason in their tooltip.
        await window.refresh()
        github.mode = "retired"
        await window.refresh()
        await _until(lambda: window.tree_model.model_count() >= 10)
        window.tree.expandAll()
        window.select_model("ollama/llava:7b")
        await asyncio.sleep(0.2)
        _save(window, out / "main.png")

        # A chat with a reasoning model, its thinking open.
        window.select_model("ollama/qwen3:8b")
        qwen = window.current_model()
        assert qwen is not None
        window.chat_with(qwen)
        window.chat.input.setPlainText(QUESTION)
        await window.chat.send()
        reply = window.chat.replies[-1]
        reply.set_thinking_open(True)
        window.chat.options_toggle.setChecked(True)
        window.chat.system_prompt.setPlainText("You are a patient physics teacher.")
        window.chat.temperature.setValue(0.7)
        await asyncio.sleep(0.2)
        _save(window, out / "chat.png")

        # A second conversation, then the list of kept conversations (grouped by date).
        window.chat.options_toggle.setChecked(False)
        window.select_model("ollama/llama3.2:latest")
        llama = window.current_model()
        assert llama is not None
        window.chat_with(llama)
        window.chat.input.setPlainText("Give me three names for a grey cat.")
        await window.chat.send()
        window.show_conversations()
        window.conversations.search.clearFocus()
        await asyncio.sleep(0.2)
        _save(window, out / "conversations.png")
        window.left_tabs.setCurrentIndex(0)

        # The dark theme, switched while the window runs (as Settings does it).
        ctx.settings.preferences.theme = "dark"
        window._preferences_changed()
        window.select_model("ollama/qwen3:8b")
        await asyncio.sleep(0.2)
        _save(window, out / "dark.png")
        ctx.settings.preferences.theme = "light"
        window._preferences_changed()

        # The smallest comfortable size: nothing elided, every column reachable.
        window.resize(1024, 700)
        window.splitter.setSizes([440, 260, 324])
        await asyncio.sleep(0.3)
        _save(window, out / "small.png")
        if os.environ.get("MODELDESK_SHOTS_ALL"):
            for width, height in ((1024, 700), (1600, 1000)):
                window.resize(width, height)
                for theme in ("light", "dark"):
                    ctx.settings.preferences.theme = theme
                    window._preferences_changed()
                    window.chat.options_toggle.setChecked(theme == "dark")
                    await asyncio.sleep(0.3)
                    _save(window, out / f"review-{width}x{height}-{theme}.png")
            ctx.settings.preferences.theme = "light"
            window._preferences_changed()
            window.chat.options_toggle.setChecked(False)

        # The pull dialog, mid-download.
        ollama.pull_steps = 400
        ollama.chunk_delay = 0.03
        window.open_pull_dialog()
        dialog = window._pull_dialog
        dialog.resize(QSize(720, 250))
        dialog.name_edit.setText("phi3:mini")
        task = dialog.start()
        await _until(
            lambda: any(r.total and r.completed >= 0.42 * r.total for r in dialog.layers.values()), timeout=40
        )
        await asyncio.sleep(0.3)
        _save(dialog, out / "pull.png")
        dialog.cancel()
        await asyncio.wait([task], timeout=10)
        dialog.close()
        ollama.pull_steps = 5
        ollama.chunk_delay = 0.01
        window.chat.options_toggle.setChecked(False)

        # The variant editor: a new variant of llama3.2, tried before saving.
        window.select_model("ollama/llama3.2:latest")
        llama = window.current_model()
        assert llama is not None
        editor = window.open_variant_dialog(llama)
        assert editor is not None
        editor.resize(QSize(1000, 640))
        editor.name_edit.setText("llama3.2-teacher")
        editor.system_edit.setPlainText(
            "You are a patient physics teacher.\nAnswer in one short paragraph, with one everyday example."
        )
        editor.temperature.setValue(0.3)
        editor.seed.setValue(7)
        editor.try_input.setText(QUESTION)
        tried = editor.try_it()
        assert tried is not None
        await tried
        await asyncio.sleep(0.2)
        _save(editor, out / "variant-editor.png")
        saving = editor.save()
        assert saving is not None
        await saving
        from desktop_app.core.chat import ChatOptions
        from desktop_app.core.variants import VariantSpec
        from desktop_app.services.variants import create_variant

        create_variant(
            ctx,
            "ollama/llama3.2:latest",
            VariantSpec(
                name="llama3.2-terse",
                system_prompt="Answer in one sentence.",
                parameters=ChatOptions(temperature=0.2),
            ),
        )
        await window.reload_models(["ollama"])

        # An evaluation of the suite on two variants, their base and a remote model: mid-run, then done.
        suite_path = home / "sky.prompt.yml"
        suite_path.write_text(EVAL_SUITE, encoding="utf-8")
        remote.reply = "Sunlight scatters off air molecules; blue scatters most, so the sky looks blue."
        window.evaluate_action.trigger()
        view = window.evaluate_view
        assert view is not None
        view.open_suite(suite_path)
        view.session.picks.replace(
            [
                "ollama/llama3.2:latest",
                "exp/llama3.2-teacher",
                "exp/llama3.2-terse",
                "openrouter/openai/gpt-4.1",
            ]
        )
        window.tree.collapseAll()
        from desktop_app.core.enums import Category

        for category in ("text", "experimental", "cloud_text"):
            window.tree.expand(
                window.proxy.mapFromSource(window.tree_model.category_index(Category(category)))
            )
        ollama.varied = VARIED_REPLIES
        ollama.chunk_delay = 0.03
        remote.chunk_delay = 0.02
        run_task = view.start_run()
        assert run_task is not None
        await _until(lambda: view.session.run is not None and view.session.run.done >= 13, timeout=60)
        view.tabs.setCurrentIndex(1)
        await asyncio.sleep(0.3)
        _save(window, out / "evaluate-running.png")
        await run_task
        view.tabs.setCurrentIndex(2)
        await asyncio.sleep(0.3)
        _save(window, out / "evaluate-results.png")
        window.resize(1024, 700)
        await asyncio.sleep(0.3)
        _save(window, out / "evaluate-results-small.png")
        window.resize(1560, 920)
        window.close()

    try:
        with asyncio.Runner(loop_factory=lambda: qasync.QEventLoop(app)) as runner:
            runner.run(shoot())
            runner.run(window.shutdown())
            runner.run(ctx.aclose())
    finally:
        ctx.close()
        for server in (ollama, remote, github):
            server.stop()
    return 0


def pool_main(out: Path) -> int:
    """``pool.png``: three Ollama hosts serving the same models (gpu-a of weight 2), a 1024×640 window
    with the pool's own row selected in the tree (POOL badge, "3 hosts") beside its hosts' rows, its
    detail, and a reply on the pool. ``MODELDESK_SHOTS_ALL=1`` also writes ``review-pool-dark.png``."""
    out.mkdir(parents=True, exist_ok=True)
    home = Path(tempfile.mkdtemp(prefix="modeldesk-shots-"))
    os.environ["MODELDESK_HOME"] = str(home)
    os.environ["PYTHON_KEYRING_BACKEND"] = "keyring.backends.fail.Keyring"
    os.environ.pop("OLLAMA_HOST", None)
    sys.path.insert(0, str(Path.cwd()))

    import qasync
    from PySide6.QtWidgets import QApplication

    from desktop_app.core.enums import Category
    from desktop_app.core.models import SourceConfig, SourceKind
    from desktop_app.gui import icons
    from desktop_app.gui.qt_main_window import QtMainWindow
    from desktop_app.gui.theme import apply_theme
    from desktop_app.services.context import AppContext
    from tests.fakes.ollama import FakeOllama

    hosts = {name: FakeOllama() for name in ("gpu-a", "gpu-b", "ollama")}
    for fake in hosts.values():
        fake.start()
        fake.reply_text = REPLY
    existing = QApplication.instance()
    app = existing if isinstance(existing, QApplication) else QApplication(sys.argv[:1])
    app.setApplicationName("ModelDesk")
    app.setWindowIcon(icons.app_icon())
    apply_theme(app, "light")
    ctx = AppContext.open()
    ctx.settings.sources = [
        SourceConfig(
            name=name,
            kind=SourceKind.OLLAMA,
            base_url=fake.url,
            options={"weight": 2} if name == "gpu-a" else {},
        )
        for name, fake in hosts.items()
    ]
    ctx.save_settings()
    window = QtMainWindow(ctx)
    window.resize(1024, 640)
    window.splitter.setSizes([440, 260, 324])
    pool = "pool/llama3.2:latest"

    async def shoot() -> None:
        window.show()
        await _until(lambda: window.first_paint_done)
        await window.refresh()
        await _until(lambda: window.tree_model.index_of(pool).isValid())
        window.tree.collapseAll()
        window.tree.expand(
            window.proxy.mapFromSource(window.tree_model.category_index(Category.FUNCTION_CALLING))
        )
        window.select_model(pool)
        model = window.current_model()
        assert model is not None
        window.chat_with(model)
        window.chat.input.setPlainText("Why is the sky blue?")
        await window.chat.send()
        window.select_model(pool)
        window.tree.setFocus()
        await asyncio.sleep(0.3)
        _save(window, out / "pool.png")
        if os.environ.get("MODELDESK_SHOTS_ALL"):
            ctx.settings.preferences.theme = "dark"
            window._preferences_changed()
            await asyncio.sleep(0.3)
            _save(window, out / "review-pool-dark.png")
        window.close()

    try:
        with asyncio.Runner(loop_factory=lambda: qasync.QEventLoop(app)) as runner:
            runner.run(shoot())
            runner.run(window.shutdown())
            runner.run(ctx.aclose())
    finally:
        ctx.close()
        for fake in hosts.values():
            fake.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
