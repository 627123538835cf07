"""The window reads the kinds table (a kind added there is offered in Settings), shows sources it cannot use,
asks whether a removed source's key goes too, and says when it moved a damaged file aside."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QCheckBox, QMessageBox

from desktop_app.core.kinds import KindSpec
from desktop_app.core.models import SourceConfig, SourceKind
from desktop_app.gui.qt_settings_dialog import QtSettingsDialog
from desktop_app.services.context import AppContext
from tests.fakes.kinds import FAKE_KIND


def test_a_kind_added_to_the_table_is_offered_in_settings(
    make_window: Any, ctx: AppContext, qtbot: Any, fake_kind: KindSpec
) -> None:
    window = make_window([])
    dialog = QtSettingsDialog(ctx, window)
    qtbot.addWidget(dialog)
    kinds = [dialog.add_kind.itemData(i) for i in range(dialog.add_kind.count())]
    assert kinds == [SourceKind.OLLAMA, SourceKind.OPENAI_COMPAT, SourceKind.GITHUB_MODELS, FAKE_KIND]
    dialog.add_kind.setCurrentIndex(kinds.index(FAKE_KIND))
    assert dialog.add_url.text() == fake_kind.default_url and dialog.add_key.isEnabled()
    dialog.add_name.setText("claude")
    dialog.add_key.setText("sk-ant-fake-0123456789")
    assert dialog.add_from_form()
    assert ctx.settings.source("claude").kind == FAKE_KIND
    assert ctx.keys.get("claude") == "sk-ant-fake-0123456789"


def test_a_source_of_an_unknown_kind_is_shown_not_dropped(
    make_window: Any, ctx: AppContext, qtbot: Any
) -> None:
    ctx.update_settings(
        lambda s: s.sources.append(SourceConfig(name="tracking", kind="mlflow", base_url="http://x"))
    )
    window = make_window([])
    box = window.notice_box
    assert box is not None and box.isVisible()
    assert "source tracking has kind 'mlflow', which this version of ModelDesk cannot use" in box.text()
    box.button(QMessageBox.StandardButton.Ok).click()
    qtbot.waitUntil(lambda: window.notice_box is None)
    dialog = QtSettingsDialog(ctx, window)
    qtbot.addWidget(dialog)
    assert dialog.table.item(0, 2).text() == "mlflow (unknown kind)"


def test_removing_a_source_asks_whether_its_key_goes_too(
    make_window: Any, ctx: AppContext, qtbot: Any
) -> None:
    ctx.update_settings(
        lambda s: s.sources.extend(
            [
                SourceConfig(name="work", kind=SourceKind.OPENAI_COMPAT, base_url="http://127.0.0.1:9/v1"),
                SourceConfig(name="home", kind=SourceKind.OPENAI_COMPAT, base_url="http://127.0.0.1:9/v1"),
            ]
        )
    )
    ctx.keys.set("work", "sk-work-0123456789")
    ctx.keys.set("home", "sk-home-0123456789")
    window = make_window([])
    dialog = QtSettingsDialog(ctx, window)
    qtbot.addWidget(dialog)
    dialog.show()
    for name, forget in (("work", False), ("home", True)):
        dialog.select_source(name)
        qtbot.mouseClick(dialog.remove_button, Qt.MouseButton.LeftButton)
        (box,) = [b for b in dialog.findChildren(QMessageBox, "confirmRemoveSource") if b.isVisible()]
        check = box.findChild(QCheckBox, "forgetKey")
        assert check is not None and check.isChecked(), "forgetting the key is offered, and the default"
        check.setChecked(forget)
        box.button(QMessageBox.StandardButton.Yes).click()
        qtbot.waitUntil(lambda name=name: name not in {s.name for s in ctx.settings.sources})
    assert "forgets its models and its key" in dialog.sources_message.text()
    assert ctx.keys.get("home") == "sk-home-0123456789", "nothing is forgotten before Save (Cancel undoes)"
    dialog.accept()
    assert ctx.keys.get("work") == "sk-work-0123456789", "kept: the user unticked it"
    assert ctx.keys.get("home") is None


def _open_window_as_the_app_does(qtbot: Any, run: Any) -> tuple[Any, AppContext]:
    from desktop_app.gui.qt_main_window import QtMainWindow
    from desktop_app.gui.startup import read_startup

    window = QtMainWindow(startup=read_startup())
    qtbot.addWidget(window, before_close_func=lambda w: run(w.shutdown()))
    window.show()
    qtbot.waitUntil(lambda: window.first_paint_done)
    context = AppContext.open()
    window.attach(context)
    return window, context


def test_the_window_says_where_a_damaged_registry_went(
    isolated_home: Path, qtbot: Any, run: Any, qloop: Any
) -> None:
    isolated_home.mkdir(parents=True, exist_ok=True)
    (isolated_home / "registry.db").write_bytes(b"this is not a database at all" * 100)
    window, context = _open_window_as_the_app_does(qtbot, run)
    try:
        (moved,) = isolated_home.glob("registry.db.corrupt-*")
        box = window.notice_box
        assert box is not None and box.isVisible() and str(moved) in box.text()
        assert str(moved) in window.error_label.text()
    finally:
        run(context.aclose())
        context.close()


def test_the_window_says_where_damaged_settings_went(
    isolated_home: Path, qtbot: Any, run: Any, qloop: Any
) -> None:
    isolated_home.mkdir(parents=True, exist_ok=True)
    (isolated_home / "settings.json").write_text(json.dumps({"sources": "not a list"}), encoding="utf-8")
    window, context = _open_window_as_the_app_does(qtbot, run)
    try:
        (moved,) = isolated_home.glob("settings.json.corrupt-*")
        box = window.notice_box
        assert box is not None and str(moved) in box.text() and "defaults are in use" in box.text()
    finally:
        run(context.aclose())
        context.close()
