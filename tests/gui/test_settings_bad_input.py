"""The Settings dialog: malformed URLs are refused with the reason, URL credentials go to the key
store (the dialog says so and never shows them), and the sync timeout of a source can be set."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt

from desktop_app.core.limits import Timeouts
from desktop_app.services.context import AppContext

SECRET = "hunter2-s3cret"


def test_settings_dialog_checks_urls_moves_credentials_and_sets_the_sync_timeout(
    make_window: Any, ctx: AppContext, qtbot: Any
) -> None:
    from desktop_app.gui.qt_settings_dialog import QtSettingsDialog

    window = make_window([])
    dialog = QtSettingsDialog(ctx, window)
    qtbot.addWidget(dialog)
    dialog.show()
    dialog.add_kind.setCurrentIndex(dialog.add_kind.findData("ollama"))
    dialog.add_name.setText("gpu-box")
    for url, reason in (("http://[::1", "never closed"), ("http://" + "a" * 300, "at most 253")):
        dialog.add_url.setText(url)
        qtbot.mouseClick(dialog.add_button, Qt.MouseButton.LeftButton)
        assert reason in dialog.sources_message.text() and not ctx.settings.sources

    dialog.add_url.setText(f"http://alice:{SECRET}@10.0.0.5:11434")
    with qtbot.waitSignal(dialog.sources_changed):
        qtbot.mouseClick(dialog.add_button, Qt.MouseButton.LeftButton)
    (source,) = ctx.settings.sources
    assert source.base_url == "http://10.0.0.5:11434"
    assert "moved to" in dialog.sources_message.text() and SECRET not in dialog.sources_message.text()
    assert SECRET not in dialog.table.item(0, 3).text()
    assert SECRET not in ctx.settings_store.path.read_text()

    dialog.select_source("gpu-box")
    assert dialog.sync_timeout.isEnabled() and dialog.sync_timeout.value() == Timeouts().sync
    dialog.sync_timeout.setValue(120)
    assert Timeouts.from_options(ctx.settings.source("gpu-box").options).sync == 120
    assert '"sync_timeout": 120.0' in ctx.settings_store.path.read_text()
