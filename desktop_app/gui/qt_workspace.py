"""The main window's experiment loop, kept apart from it: the Evaluate mode (Ctrl+E: the tree picks
models with check boxes, the Evaluate view takes the place of the detail pane and the chat) and the
variant editor opened from the tree's menu or the detail pane.

``QtMainWindow`` mixes this in; it only calls ``_build_workspace`` once its widgets exist,
``_workspace_menu`` from the tree's context menu and ``_workspace_shutdown`` / ``_leave_workspace``
when it closes.
"""

from __future__ import annotations

import logging
import subprocess
from typing import TYPE_CHECKING, Any

from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QMenu

from desktop_app.core.enums import ModelType
from desktop_app.core.errors import ModelDeskError
from desktop_app.core.pools import is_pool_id
from desktop_app.gui import icons

log = logging.getLogger(__name__)

if TYPE_CHECKING:
    from desktop_app.core.models import UnifiedModel
    from desktop_app.gui.qt_evaluate_view import QtEvaluateView
    from desktop_app.gui.qt_model_picker import QtModelPicker
    from desktop_app.gui.qt_variant_dialog import QtVariantDialog

__all__ = ["WorkspaceMixin"]


class WorkspaceMixin:
    """Evaluate mode and the variant editor for ``QtMainWindow`` (see the module docstring)."""

    evaluate_view: QtEvaluateView | None
    picker: QtModelPicker | None
    variant_dialog: QtVariantDialog | None

    def _build_workspace(self) -> None:
        w: Any = self
        self.evaluate_view = None
        self.picker = None
        self.variant_dialog = None
        self.mlflow_logger: subprocess.Popen[bytes] | None = None  # the last run's logging child
        self._sizes_before: list[int] | None = None
        action = QAction(icons.icon("evaluate"), "Evaluate", w)
        action.setObjectName("evaluateAction")
        action.setCheckable(True)
        action.setShortcut(QKeySequence("Ctrl+E"))
        action.setToolTip("Evaluate: run a .prompt.yml suite on models checked in the tree (Ctrl+E)")
        action.toggled.connect(self.set_evaluate_mode)
        w.toolbar.insertAction(w.refresh_action, action)
        self.evaluate_action = action
        w.detail.variant_requested.connect(self.open_variant_dialog)

    # ------------------------------------------------------------------ evaluate mode
    def ensure_evaluate_view(self) -> QtEvaluateView | None:
        w: Any = self
        if self.evaluate_view is None:
            if w.ctx is None:
                return None
            from desktop_app.gui.qt_evaluate_view import QtEvaluateView
            from desktop_app.gui.qt_model_picker import QtModelPicker

            view = QtEvaluateView(w.ctx, w.tree_model.models)
            view.status_message.connect(lambda text: w.show_status(text))
            view.error_raised.connect(lambda exc: w.show_error(exc, title="Evaluation"))
            view.run_done.connect(self._evaluation_done)
            view.hide()
            w.splitter.addWidget(view)
            w.splitter.setStretchFactor(3, 8)
            self.evaluate_view = view
            self.picker = QtModelPicker(w.tree, w.tree_model, view.session.picks)
            w.models_reloaded.connect(view.fill_judges)
        return self.evaluate_view

    def set_evaluate_mode(self, on: bool) -> None:
        w: Any = self
        view = self.ensure_evaluate_view() if on else self.evaluate_view
        if view is None:
            self.evaluate_action.setChecked(False)
            return
        if self.evaluate_action.isChecked() != on:
            self.evaluate_action.setChecked(on)  # comes back here through toggled
            return
        if on == view.isVisible():
            return
        splitter = w.splitter
        if on:
            self._sizes_before = splitter.sizes()[:3]
            total = sum(splitter.sizes()) or w.width()
            w.detail.hide()
            w.chat.hide()
            view.show()
            view.fill_judges()
            splitter.setSizes([int(total * 0.34), 0, 0, int(total * 0.66)])
        else:
            view.hide()
            w.detail.show()
            w.chat.show()
            if self._sizes_before:
                splitter.setSizes([*self._sizes_before, 0])
        assert self.picker is not None
        self.picker.set_active(on)

    def _evaluation_done(self, run_id: str, status: str) -> None:
        """A run ended (complete, cancelled or stopped by an error); its file is under ``runs/``.

        As the CLI does: a finished run is logged to MLflow now, by a child process of ModelDesk's own
        (the window never imports mlflow); a stopped one waits in the outbox until it is resumed and
        finished (or the next ``sync``/``mlflow flush``), so it ends as one MLflow run, not two halves."""
        w: Any = self
        if w.ctx is None:
            return
        from desktop_app.services import tracking

        try:
            child = tracking.hand_off(w.ctx, run_id, finished=status == "complete")
            if child is not None:
                self.mlflow_logger = child
                w.show_status(
                    f"Logging run {run_id} to MLflow in the background ({tracking.target(w.ctx).display}).",
                    timeout_ms=15000,
                )
        except (OSError, ModelDeskError) as exc:  # the run itself is saved; only its logging waits
            log.warning("could not start logging run %s to MLflow: %s", run_id, exc)
            w.show_status(f"Run {run_id} is saved; logging it to MLflow failed to start: {exc}", error=True)

    def _leave_workspace(self) -> None:
        """Back to the chat before the window's layout is saved (it is restored without the view)."""
        if self.evaluate_view is not None and self.evaluate_view.isVisible():
            self.set_evaluate_mode(False)

    async def _workspace_shutdown(self) -> None:
        if self.evaluate_view is not None:
            await self.evaluate_view.shutdown()
        dialog = self.variant_dialog
        if dialog is not None:
            dialog.reject()

    # ------------------------------------------------------------------ variants
    def _workspace_menu(self, menu: QMenu, model: UnifiedModel) -> None:
        menu.addSeparator()
        if not is_pool_id(model.id):  # a variant's parent is one host's model, not a pool
            menu.addAction("New variant…", lambda: self.open_variant_dialog(model))
        if model.model_type is not ModelType.BASE:
            menu.addAction("Edit variant…", lambda: self.open_variant_dialog(model, edit=True))
        view = self.evaluate_view
        if view is not None:
            picked = model.id in view.session.picks
            menu.addAction(
                "Remove from the evaluation" if picked else "Add to the evaluation",
                lambda: view.session.picks.set(model.id, not picked),
            )

    def open_variant_dialog(self, model: UnifiedModel, edit: bool = False) -> QtVariantDialog | None:
        w: Any = self
        if w.ctx is None:
            return None
        from desktop_app.gui.qt_variant_dialog import QtVariantDialog

        dialog = QtVariantDialog(w.ctx, model, w, edit=edit)
        dialog.status_message.connect(lambda text: w.show_status(text))
        dialog.saved.connect(lambda ids: w._spawn(self._variants_saved(model.provider, ids)))
        dialog.finished.connect(lambda _r: setattr(self, "variant_dialog", None))
        self.variant_dialog = dialog
        dialog.open()
        return dialog

    async def _variants_saved(self, provider: str, ids: list[str]) -> None:
        """Show the new variants in the tree and select the first (Enter chats with it)."""
        w: Any = self
        await w.reload_models([provider])
        if ids:
            w.select_model(ids[0])
