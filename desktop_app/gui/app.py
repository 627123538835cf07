"""Starting the window: QApplication, the qasync event loop, the excepthook, the log file.

``run()`` is what ``modeldesk`` / ``modeldesk gui`` call. Only what the first paint needs is imported
before the window shows; dialogs, sync and chat services load when first used.
"""

from __future__ import annotations

import asyncio
import logging
import logging.handlers
import os
import signal
import sys
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from desktop_app.services.context import AppContext

__all__ = [
    "configure_loop",
    "install_asyncgen_hooks",
    "install_excepthook",
    "install_stop_signals",
    "process_seconds",
    "run",
]

log = logging.getLogger("desktop_app.gui")

_IMPORTED_AT = time.monotonic()


def process_seconds() -> float:
    """Seconds since this process started (from /proc on Linux; else since this module was imported)."""
    try:
        with open("/proc/self/stat", "rb") as fh:
            fields = fh.read().rsplit(b")", 1)[1].split()
        start_ticks = int(fields[19])
        with open("/proc/uptime", "rb") as fh:
            uptime = float(fh.read().split()[0])
        return max(0.0, uptime - start_ticks / os.sysconf("SC_CLK_TCK"))
    except (OSError, ValueError, IndexError):
        return time.monotonic() - _IMPORTED_AT


def _setup_logging(home: Path) -> Path | None:
    path = home / "logs" / "modeldesk.log"
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        handler = logging.handlers.RotatingFileHandler(
            path, maxBytes=2_000_000, backupCount=3, encoding="utf-8"
        )
    except OSError:
        return None
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger("desktop_app")
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    return path


def install_excepthook(window: Any) -> None:
    """Errors escaping slots and tasks are logged and shown in the window; the app keeps running."""

    def hook(exc_type: type[BaseException], exc: BaseException, tb: TracebackType | None) -> None:
        if issubclass(exc_type, KeyboardInterrupt):
            window.close()
            return
        details = "".join(traceback.format_exception(exc_type, exc, tb))
        log.error("unhandled error in the window:\n%s", details)
        try:
            window.show_unexpected(exc, details)
        except Exception:  # the window itself is broken: at least say so on stderr
            sys.__excepthook__(exc_type, exc, tb)

    sys.excepthook = hook


UI_SWITCH_INTERVAL = 0.001


def configure_loop(loop: asyncio.AbstractEventLoop) -> tuple[Any, Any]:
    """Settings every window process wants on its qasync loop (the app, the bench and the tests):

    - async generators left open are finalized by the loop (``install_asyncgen_hooks``);
    - a short GIL switch interval: the UI thread takes the GIL back on every call Qt makes into Python
      (thousands per paint), so a worker thread holding it for the default 5 ms turns one paint into a
      visible stall.
    """
    sys.setswitchinterval(UI_SWITCH_INTERVAL)
    return install_asyncgen_hooks(loop)


def install_asyncgen_hooks(loop: asyncio.AbstractEventLoop) -> tuple[Any, Any]:
    """What ``asyncio``'s own ``run_forever`` does and qasync's does not: let the loop finalize async
    generators that were left open (an HTTP stream left early). Without it they are closed by the
    garbage collector outside the loop and fail ("async generator ignored GeneratorExit").
    Returns the previous hooks."""
    old = sys.get_asyncgen_hooks()
    firstiter = getattr(loop, "_asyncgen_firstiter_hook", None)
    finalizer = getattr(loop, "_asyncgen_finalizer_hook", None)
    if firstiter is not None and finalizer is not None:
        sys.set_asyncgen_hooks(firstiter=firstiter, finalizer=finalizer)
    return old.firstiter, old.finalizer


STOP_SIGNALS = ("SIGINT", "SIGTERM")  # Ctrl-C in the terminal that started the window; a polite kill


def install_stop_signals(loop: asyncio.AbstractEventLoop, on_signal: Callable[[int], None]) -> Any:
    """Ctrl-C (SIGINT) and SIGTERM call ``on_signal(signum)`` on the loop, even while the window idles.

    Python runs signal handlers only between bytecodes, and an idle Qt loop runs none: Ctrl-C did
    nothing until the next mouse move. The loop's ``add_signal_handler`` uses ``signal.set_wakeup_fd``:
    the C-level handler writes to the loop's self-pipe, which qasync watches with a QSocketNotifier,
    so Qt wakes at once. Where that is not available (Windows) a plain handler plus a 200 ms timer that
    lets Python run does it. Returns what keeps the fallback timer alive (None otherwise)."""
    signums = [getattr(signal, name) for name in STOP_SIGNALS if hasattr(signal, name)]
    try:
        for signum in signums:
            loop.add_signal_handler(signum, on_signal, signum)
        return None
    except (NotImplementedError, RuntimeError, ValueError):
        pass
    from PySide6.QtCore import QTimer

    for signum in signums:
        signal.signal(signum, lambda n, _frame: loop.call_soon_threadsafe(on_signal, n))
    timer = QTimer()
    timer.timeout.connect(lambda: None)  # a turn of Python code, in which pending handlers run
    timer.start(200)
    return timer


def _loop_exception_handler(loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
    exc = context.get("exception")
    if isinstance(exc, BaseException):
        sys.excepthook(type(exc), exc, exc.__traceback__)
    else:
        log.error("event loop: %s", context.get("message"))


def run(argv: list[str] | None = None, *, exit_after_shown: bool = False) -> int:
    """Open the window and run until it closes. Returns the process exit code."""
    import qasync
    from PySide6.QtCore import Qt
    from PySide6.QtWidgets import QApplication

    from desktop_app.core.errors import ModelDeskError
    from desktop_app.gui import icons
    from desktop_app.gui.startup import read_startup
    from desktop_app.gui.theme import apply_theme

    QApplication.setHighDpiScaleFactorRoundingPolicy(Qt.HighDpiScaleFactorRoundingPolicy.PassThrough)
    app = QApplication.instance()
    if not isinstance(app, QApplication):
        app = QApplication(argv if argv is not None else sys.argv[:1])
    app.setApplicationName("ModelDesk")
    app.setApplicationDisplayName("ModelDesk")
    app.setOrganizationName("ModelDesk")
    app.setDesktopFileName("modeldesk")
    app.setQuitOnLastWindowClosed(False)
    app.setWindowIcon(icons.app_icon())

    # The first paint needs no pydantic model: the window opens from the stored JSON and the context
    # (validated settings, keys, backends) is opened right after it is on screen.
    startup = read_startup()
    apply_theme(app, startup.theme)
    from desktop_app.gui.qt_main_window import QtMainWindow

    window = QtMainWindow(startup=startup)
    install_excepthook(window)
    holder: dict[str, AppContext] = {}
    keep_alive: list[Any] = []  # the fallback signal timer, where there is one

    async def main() -> int:
        loop = asyncio.get_running_loop()
        loop.set_exception_handler(_loop_exception_handler)
        configure_loop(loop)
        closed = asyncio.Event()
        window.closed.connect(closed.set)
        app.aboutToQuit.connect(closed.set)
        stopped_by: list[int] = []

        def on_stop_signal(signum: int) -> None:
            log.info("signal %d: closing the window", signum)
            stopped_by.append(signum)
            window.close()  # saves the window's state, like Ctrl+Q
            closed.set()  # even if a dialog kept the window from closing

        keep_alive.append(install_stop_signals(loop, on_stop_signal))
        shown = asyncio.Event()
        if window.first_paint_done:
            shown.set()
        window.first_painted.connect(shown.set)
        window.show()
        try:
            await shown.wait()
            if exit_after_shown:
                n = window.tree_model.model_count()
                print(f"shown {n} models in {process_seconds():.2f} s", flush=True)
                window.close()
                return 0
            from desktop_app.services.context import AppContext

            try:
                ctx = AppContext.open()
            except ModelDeskError as exc:
                box = window.show_error(exc, title="ModelDesk cannot open its data")
                box.finished.connect(lambda _r: window.close())
                await closed.wait()
                return 1
            holder["ctx"] = ctx
            log_path = _setup_logging(ctx.home)
            if log_path is not None:
                log.info("window opened with %d models; log at %s", window.tree_model.model_count(), log_path)
            if ctx.settings.preferences.theme != startup.theme:
                apply_theme(app, ctx.settings.preferences.theme)
            window.attach(ctx)
            window.start()
            await closed.wait()
            return 128 + stopped_by[0] if stopped_by else 0  # 130 after Ctrl-C, as shells expect
        finally:
            await window.shutdown()
            if "ctx" in holder:
                await holder["ctx"].aclose()

    try:
        with asyncio.Runner(loop_factory=lambda: qasync.QEventLoop(app)) as runner:
            return runner.run(main())
    finally:
        if "ctx" in holder:
            holder["ctx"].close()
