"""The window shares settings.json with CLI commands run while it is open."""

from __future__ import annotations

from typing import Any

from desktop_app.core.models import SourceConfig, SourceKind
from desktop_app.services.context import AppContext
from desktop_app.services.sources import add_source
from desktop_app.store.settings import SettingsStore


def cli_adds_a_source() -> None:
    cli = AppContext.open()  # `modeldesk source add` while the window is open
    add_source(cli, SourceConfig(name="cli-added", kind=SourceKind.OLLAMA, base_url="http://127.0.0.1:9"))
    cli.close()


def test_window_changes_keep_a_source_the_cli_added_meanwhile(
    make_window: Any, ctx: AppContext, qtbot: Any
) -> None:
    from desktop_app.gui.qt_settings_dialog import QtSettingsDialog

    window = make_window([])
    dialog = QtSettingsDialog(ctx, window)
    qtbot.addWidget(dialog)
    dialog.show()
    cli_adds_a_source()
    dialog.theme.setCurrentIndex(dialog.theme.findData("dark"))
    dialog.accept()  # saves the preferences
    window.save_state()  # what closing the window does
    on_disk = SettingsStore(ctx.home / "settings.json").load()
    assert "cli-added" in [s.name for s in on_disk.sources]
    assert on_disk.preferences.theme == "dark"
    assert on_disk.preferences.window.get("geometry")
