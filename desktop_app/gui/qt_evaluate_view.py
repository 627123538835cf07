"""The Evaluate view: open or edit a ``.prompt.yml``, pick models (checked in the tree, or a whole
category), pick a judge, run with per-model progress, read the results matrix and chart, export, and
reopen, resume or compare past runs.

Everything that is not a widget lives in :class:`~desktop_app.services.eval_session.EvalSession`. The
run goes on the UI thread's event loop (qasync) like every other request of the window; the view looks
at what changed on a timer (``REFRESH_MS``) instead of on every case, so a big run never floods Qt.
"""

from __future__ import annotations

import asyncio
import gc
import sys
from collections.abc import Callable, Sequence
from functools import partial
from pathlib import Path
from typing import Any

from PySide6.QtCore import QModelIndex, Qt, QTimer, Signal
from PySide6.QtGui import QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QFileDialog,
    QFrame,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QMenu,
    QPushButton,
    QScrollArea,
    QSplitter,
    QTableView,
    QTabWidget,
    QTextBrowser,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from desktop_app.core.errors import InvalidInput, ModelDeskError
from desktop_app.core.evaluation import RunStatus, select_winner
from desktop_app.core.models import UnifiedModel
from desktop_app.gui import icons
from desktop_app.gui.labels import CATEGORY_LABELS, CATEGORY_ORDER
from desktop_app.gui.qt_chart import QtStatsChart
from desktop_app.gui.qt_evaluate_models import QtCasesModel, QtProgressDelegate, QtProgressModel, QtRunsModel
from desktop_app.gui.qt_results_matrix import (
    QtCaseDialog,
    QtMatrixDelegate,
    QtResultsMatrixModel,
    short_model_name,
)
from desktop_app.gui.qt_suite_editor import QtSuiteEditor
from desktop_app.services.context import AppContext
from desktop_app.services.eval_session import (
    EvalSession,
    ModelProgress,
    RunComparison,
    bundled_suites,
    compare_runs,
    evaluable,
)
from desktop_app.services.run_files import RunInfo, past_runs

__all__ = ["REFRESH_MS", "QtEvaluateView"]

REFRESH_MS = 150  # how often a running evaluation's cells and bars are brought up to date
CHART_EVERY = 5  # ticks between two redraws of the chart (its statistics cost more than a cell)
# Finished cases live as long as their run is on screen. Every this many, they are moved out of the
# cyclic collector's reach (gc.freeze, as the window does after start-up): a full collection walking
# thousands of results stalled the window for 150 ms in the middle of a run.
FREEZE_EVERY = 400
DEFAULT_JUDGE = "Judge: the suite's own"


class QtEvaluateView(QWidget):
    status_message = Signal(str)
    error_raised = Signal(object)  # a ModelDeskError for the window to show
    run_done = Signal(str, str)  # run id, status: the hook for tracking (MLflow logs finished runs)

    def __init__(
        self,
        ctx: AppContext,
        models: Callable[[], Sequence[UnifiedModel]],
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setObjectName("evaluateView")
        self.ctx = ctx
        self.models = models
        self.session = EvalSession(ctx)
        # Set by the window once tracking exists: run id -> URL of the run in MLflow (None: not logged).
        self.mlflow_url: Callable[[str], str | None] | None = None
        self._ticks = 0
        self._frozen_at = 0
        self._task: asyncio.Task[Any] | None = None
        self._case_dialog: QtCaseDialog | None = None
        self.comparison: RunComparison | None = None

        layout = QVBoxLayout(self)
        layout.setContentsMargins(8, 6, 8, 6)
        layout.setSpacing(6)
        top, actions = self._build_bar()
        layout.addLayout(top)
        layout.addLayout(actions)
        layout.addWidget(self._build_banner())
        self.tabs = QTabWidget()
        self.tabs.setObjectName("evaluateTabs")
        self.tabs.setDocumentMode(True)
        self.tabs.addTab(self._build_suite_tab(), "Suite")
        self.tabs.addTab(self._build_models_tab(), "Models")
        self.tabs.addTab(self._build_results_tab(), "Results")
        self.tabs.addTab(self._build_runs_tab(), "Runs")
        layout.addWidget(self.tabs, 1)

        self.timer = QTimer(self)
        self.timer.setInterval(REFRESH_MS)
        self.timer.timeout.connect(self.refresh)
        s = self.session
        s.suite_changed.connect(self._on_suite_changed)
        s.picks.changed.connect(self._on_picks_changed)
        s.run_started.connect(self._on_run_started)
        s.run_finished.connect(self._on_run_finished)
        s.run_loaded.connect(self._on_run_loaded)
        s.waiting.connect(lambda message: self.status_message.emit(message))
        self.editor.text_settled.connect(self.session.set_text)
        self._update_buttons()
        self._on_picks_changed()
        self.reload_runs()
        # Where the user left off: unsaved edits first, else the last suite opened.
        if self.session.restore_draft():
            self.editor.set_text(self.session.suite_text)
            self.editor.show_check(self.session.check)
        else:
            recent = self.session.recent.load()
            if recent:
                self.open_suite(recent[0])

    # ================================================================== building
    def _build_bar(self) -> tuple[QHBoxLayout, QHBoxLayout]:
        """Two rows, so the view fits beside the tree in a 1024-pixel window: the suite, then the run."""
        bar = QHBoxLayout()
        bar.setSpacing(6)
        actions = QHBoxLayout()
        actions.setSpacing(6)
        self.open_button = QToolButton()
        self.open_button.setObjectName("openSuite")
        self.open_button.setText("Open suite")
        self.open_button.setIcon(icons.icon("open"))
        self.open_button.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        self.open_button.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        self.open_menu = QMenu(self.open_button)
        self.open_menu.aboutToShow.connect(self._fill_open_menu)
        self.open_button.setMenu(self.open_menu)
        bar.addWidget(self.open_button)
        self.suite_label = QLabel("No suite")
        self.suite_label.setObjectName("suiteName")
        font = self.suite_label.font()
        font.setBold(True)
        self.suite_label.setFont(font)
        bar.addWidget(self.suite_label, 1)
        self.save_button = QPushButton("Save")
        self.save_button.setObjectName("saveSuite")
        self.save_button.setToolTip("Save the suite's text to its file (Ctrl+S)")
        self.save_button.clicked.connect(self.save_suite)
        bar.addWidget(self.save_button)
        self.judge_combo = QComboBox()
        self.judge_combo.setObjectName("judgeCombo")
        self.judge_combo.setMinimumContentsLength(8)
        self.judge_combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.judge_combo.setToolTip(
            "The model that grades llm / uses: evaluators (the suite's own when not set)"
        )
        actions.addWidget(self.judge_combo, 1)
        actions.addStretch(0)
        self.run_button = QPushButton(icons.icon("run"), "Run")
        self.run_button.setObjectName("runEval")
        self.run_button.setToolTip("Run the suite on the picked models (Ctrl+R)")
        self.run_button.clicked.connect(self.start_run)
        actions.addWidget(self.run_button)
        self.cancel_button = QPushButton(icons.icon("stop"), "Cancel")
        self.cancel_button.setObjectName("cancelEval")
        self.cancel_button.setToolTip("Stop: finished cases are kept and the run can be resumed")
        self.cancel_button.clicked.connect(self.session.cancel)
        actions.addWidget(self.cancel_button)
        self.export_button = QToolButton()
        self.export_button.setObjectName("exportRun")
        self.export_button.setText("Export")
        self.export_button.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        menu = QMenu(self.export_button)
        for fmt, label in (("html", "HTML report…"), ("json", "JSON (gh models eval)…"), ("csv", "CSV…")):
            menu.addAction(label, partial(self.ask_export, fmt))
        self.export_button.setMenu(menu)
        actions.addWidget(self.export_button)
        self.mlflow_button = QPushButton("Open in MLflow")
        self.mlflow_button.setObjectName("openInMlflow")
        self.mlflow_button.hide()  # shown once the window sets ``mlflow_url`` and the run is logged
        self.mlflow_button.clicked.connect(self._open_in_mlflow)
        actions.addWidget(self.mlflow_button)
        run_key = QShortcut(QKeySequence("Ctrl+R"), self)
        run_key.setContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
        run_key.activated.connect(self.start_run)
        save_key = QShortcut(QKeySequence.StandardKey.Save, self)
        save_key.setContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
        save_key.activated.connect(self.save_suite)
        return bar, actions

    def _build_banner(self) -> QFrame:
        frame = QFrame()
        frame.setObjectName("resumeBanner")
        frame.setStyleSheet(
            "QFrame#resumeBanner { border: 1px solid #d97706; border-radius: 6px; "
            "background: rgba(217, 119, 6, 0.10); } QFrame#resumeBanner QLabel { border: none; }"
        )
        row = QHBoxLayout(frame)
        row.setContentsMargins(10, 6, 10, 6)
        self.banner_text = QLabel()
        self.banner_text.setWordWrap(True)
        row.addWidget(self.banner_text, 1)
        self.banner_resume = QPushButton("Resume")
        self.banner_resume.setObjectName("bannerResume")
        self.banner_resume.clicked.connect(
            lambda: self._banner_run and self.resume_run(self._banner_run.run_id)
        )
        row.addWidget(self.banner_resume)
        dismiss = QPushButton("Dismiss")
        dismiss.clicked.connect(frame.hide)
        row.addWidget(dismiss)
        frame.hide()
        self.banner = frame
        self._banner_run: RunInfo | None = None
        return frame

    def _resume_banner_run(self) -> None:
        if self._banner_run is not None:
            self.resume_run(self._banner_run.run_id)

    def _build_suite_tab(self) -> QWidget:
        split = QSplitter(Qt.Orientation.Vertical)
        split.setObjectName("suiteSplitter")
        self.cases_model = QtCasesModel(self)
        self.cases_view = QTableView()
        self.cases_view.setObjectName("casesTable")
        self.cases_view.setModel(self.cases_model)
        self.cases_view.setWordWrap(False)
        self.cases_view.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.cases_view.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
        self.cases_view.verticalHeader().setDefaultSectionSize(22)
        split.addWidget(self.cases_view)
        self.editor = QtSuiteEditor()
        split.addWidget(self.editor)
        split.setSizes([180, 320])
        return split

    def _build_models_tab(self) -> QWidget:
        page = QWidget()
        layout = QVBoxLayout(page)
        layout.setContentsMargins(0, 6, 0, 0)
        row = QHBoxLayout()
        self.picks_hint = QLabel()
        self.picks_hint.setObjectName("picksHint")
        self.picks_hint.setWordWrap(True)
        row.addWidget(self.picks_hint, 1)
        self.category_button = QToolButton()
        self.category_button.setObjectName("addCategory")
        self.category_button.setText("Add a category")
        self.category_button.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        menu = QMenu(self.category_button)
        for cat in CATEGORY_ORDER:
            menu.addAction(
                icons.category_icon(cat),
                f"All in {CATEGORY_LABELS[cat]}",
                lambda c=cat: self.pick_category(c),
            )
        self.category_button.setMenu(menu)
        row.addWidget(self.category_button)
        self.remove_pick = QPushButton("Remove")
        self.remove_pick.setObjectName("removePick")
        self.remove_pick.clicked.connect(self._remove_selected_picks)
        row.addWidget(self.remove_pick)
        self.clear_picks = QPushButton("Clear")
        self.clear_picks.setObjectName("clearPicks")
        self.clear_picks.clicked.connect(lambda: self.session.picks.replace([]))
        row.addWidget(self.clear_picks)
        layout.addLayout(row)
        self.progress_model = QtProgressModel(self)
        self.progress_view = QTableView()
        self.progress_view.setObjectName("progressTable")
        self.progress_view.setModel(self.progress_model)
        self.progress_view.setItemDelegateForColumn(1, QtProgressDelegate(self.progress_view))
        self.progress_view.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.progress_view.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.progress_view.verticalHeader().hide()
        header = self.progress_view.horizontalHeader()
        # Fixed widths: a column sized to its contents asks every row for its data on each change.
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.Stretch)
        for col in (2, 3, 4):
            header.setSectionResizeMode(col, QHeaderView.ResizeMode.Interactive)
            self.progress_view.setColumnWidth(col, 64)
        layout.addWidget(self.progress_view, 1)
        self.overall = QLabel()
        self.overall.setObjectName("overallProgress")
        layout.addWidget(self.overall)
        return page

    def _build_results_tab(self) -> QWidget:
        split = QSplitter(Qt.Orientation.Vertical)
        split.setObjectName("resultsSplitter")
        self.matrix_model = QtResultsMatrixModel(self.session, self)
        self.matrix = _MatrixView()
        self.matrix.setObjectName("resultsMatrix")
        self.matrix.setModel(self.matrix_model)
        self.matrix.setItemDelegate(QtMatrixDelegate(self.matrix))
        self.matrix.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.matrix.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.matrix.horizontalHeader().setMinimumSectionSize(70)
        self.matrix.verticalHeader().setDefaultSectionSize(24)
        self.matrix.verticalHeader().setMaximumWidth(220)
        self.matrix.doubleClicked.connect(self.open_case)
        self.matrix_model.modelReset.connect(self.matrix.fit_columns)
        self.matrix.activated.connect(self.open_case)
        split.addWidget(self.matrix)
        self.chart = QtStatsChart()
        scroll = QScrollArea()
        scroll.setObjectName("chartArea")
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QFrame.Shape.NoFrame)
        scroll.setWidget(self.chart)
        split.addWidget(scroll)
        split.setSizes([360, 180])
        return split

    def _build_runs_tab(self) -> QWidget:
        page = QWidget()
        layout = QVBoxLayout(page)
        layout.setContentsMargins(0, 6, 0, 0)
        self.runs_model = QtRunsModel(self)
        self.runs_view = QTableView()
        self.runs_view.setObjectName("runsTable")
        self.runs_view.setModel(self.runs_model)
        self.runs_view.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.runs_view.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.runs_view.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.runs_view.verticalHeader().hide()
        self.runs_view.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        self.runs_view.horizontalHeader().setSectionResizeMode(2, QHeaderView.ResizeMode.Stretch)
        self.runs_view.doubleClicked.connect(lambda index: self.open_run_at(index.row()))
        layout.addWidget(self.runs_view, 2)
        row = QHBoxLayout()
        for name, label, slot in (
            ("openRun", "Open", lambda: self.open_run_at(self._selected_run_row())),
            ("resumeRun", "Resume", self._resume_selected),
            ("compareRun", "Compare", self._compare_selected),
            ("refreshRuns", "Refresh", self.reload_runs),
        ):
            button = QPushButton(label)
            button.setObjectName(name)
            button.clicked.connect(slot)
            if name == "compareRun":
                button.setToolTip(
                    "Compare the selected run with the run on screen: what got better, what got worse"
                )
            row.addWidget(button)
            setattr(self, f"{name}_button", button)
        row.addStretch(1)
        layout.addLayout(row)
        self.compare_text = QTextBrowser()
        self.compare_text.setObjectName("compareText")
        self.compare_text.setPlaceholderText(
            "Open a run, select another run of the same suite and press Compare: what got better, what got worse."
        )
        layout.addWidget(self.compare_text, 1)
        return page

    # ================================================================== suite
    def _fill_open_menu(self) -> None:
        menu = self.open_menu
        menu.clear()
        menu.addAction("Open a .prompt.yml file…", self.ask_open)
        recent = self.session.recent.load()
        if recent:
            menu.addSection("Recent")
            for path in recent:
                menu.addAction(path.name, partial(self.open_suite, path)).setToolTip(str(path))
        examples = bundled_suites()
        if examples:
            menu.addSection("Examples")
            for path in examples:
                menu.addAction(path.name, partial(self.open_suite, path)).setToolTip(str(path))

    def ask_open(self) -> None:
        start = str(self.session.suite_path.parent) if self.session.suite_path else str(Path.home())
        path, _ = QFileDialog.getOpenFileName(
            self, "Open a suite", start, "Suites (*.prompt.yml *.yml *.yaml);;All files (*)"
        )
        if path:
            self.open_suite(path)

    def open_suite(self, path: str | Path) -> None:
        try:
            check = self.session.open_suite(path)
        except ModelDeskError as exc:
            self.error_raised.emit(exc)
            return
        self.editor.set_text(self.session.suite_text)
        self.editor.show_check(check)  # again: the error's line is marked in the new text
        self.status_message.emit(f"Opened {path}" + ("" if check.ok else f" — {check.error}"))

    def save_suite(self) -> None:
        self.editor.flush()
        try:
            if self.session.suite_path is None:
                path, _ = QFileDialog.getSaveFileName(
                    self, "Save the suite", str(Path.home() / "suite.prompt.yml")
                )
                if not path:
                    return
                saved = self.session.save_suite(path)
            else:
                saved = self.session.save_suite()
        except ModelDeskError as exc:
            self.error_raised.emit(exc)
            return
        self.status_message.emit(f"Saved {saved}")
        self._on_suite_changed()

    def _on_suite_changed(self) -> None:
        check = self.session.check
        self.editor.show_check(check)
        suite = check.suite
        self.cases_model.set_suite(suite)
        path = self.session.suite_path
        name = suite.name if suite is not None and suite.name else (path.name if path else "No suite")
        self.suite_label.setText(name + (" (edited)" if self.session.edited else ""))
        self.suite_label.setToolTip(str(path) if path else "")
        self.tabs.setTabText(0, f"Suite ({len(suite.test_data)})" if suite is not None else "Suite ⚠")
        self._update_judge()
        if not self.session.running:
            self._show_picks()
        self._update_buttons()

    # ================================================================== models
    def pick_category(self, category: Any) -> None:
        added = self.session.picks.pick_category(self.models(), category)
        self.status_message.emit(
            f"Added {added} model{'s' if added != 1 else ''} from {CATEGORY_LABELS[category]}."
        )

    def _remove_selected_picks(self) -> None:
        ids = self.progress_model.model_ids()
        rows = {i.row() for i in self.progress_view.selectionModel().selectedRows()}
        self.session.picks.set_many([ids[r] for r in rows if r < len(ids)], False)

    def _on_picks_changed(self) -> None:
        n = len(self.session.picks)
        self.picks_hint.setText(
            f"{n} model{'s' if n != 1 else ''} picked. Check models in the tree on the left (a category's box "
            "picks all of it), or add a whole category."
            if n
            else "No model picked yet: check models in the tree on the left (local, remote or experimental), "
            "or add a whole category."
        )
        self.tabs.setTabText(1, f"Models ({n})")
        if not self.session.running:
            self._show_picks()
        self._update_buttons()

    def _show_picks(self) -> None:
        """Before a run: the picked models, with the progress they have in the run on screen (if any)."""
        total = len(self.session.suite.test_data) if self.session.suite is not None else 0
        rows = [self.session.progress.get(m) or ModelProgress(m, total) for m in self.session.picks.ids()]
        self.progress_model.set_rows(rows)
        self._update_overall()

    def _update_judge(self) -> None:
        needs = self.session.needs_judge()
        current = self.judge_combo.currentData()
        if needs and self.judge_combo.count() <= 1:
            self.fill_judges()
            index = self.judge_combo.findData(current)
            self.judge_combo.setCurrentIndex(max(0, index))
        self.judge_combo.setEnabled(needs)

    def fill_judges(self) -> None:
        combo = self.judge_combo
        current = combo.currentData()
        combo.blockSignals(True)
        combo.clear()
        combo.addItem(DEFAULT_JUDGE, None)
        for m in sorted((m for m in self.models() if evaluable(m)), key=lambda m: (not m.is_local, m.id)):
            combo.addItem(f"Judge: {m.id}", m.id)
        combo.setCurrentIndex(max(0, combo.findData(current)))
        combo.blockSignals(False)

    def judge(self) -> str | None:
        value = self.judge_combo.currentData()
        return value if isinstance(value, str) and self.session.needs_judge() else None

    # ================================================================== running
    def start_run(self) -> asyncio.Task[Any] | None:
        self.editor.flush()
        if self.session.running:
            return None
        try:
            task = self.session.start(judge=self.judge())
        except ModelDeskError as exc:
            self.error_raised.emit(exc)
            if isinstance(exc, InvalidInput) and not self.session.picks.ids():
                self.tabs.setCurrentIndex(1)
            return None
        self._watch(task)
        return task

    def resume_run(self, run_id: str) -> asyncio.Task[Any] | None:
        if self.session.running:
            return None
        try:
            task = self.session.resume(run_id)
        except ModelDeskError as exc:
            self.error_raised.emit(exc)
            return None
        self.banner.hide()
        self._watch(task)
        return task

    def _watch(self, task: asyncio.Task[Any]) -> None:
        self._task = task

        def done(t: asyncio.Task[Any]) -> None:
            if t.cancelled():
                return
            exc = t.exception()
            if isinstance(exc, ModelDeskError):
                self.error_raised.emit(exc)
            elif exc is not None:
                sys.excepthook(type(exc), exc, exc.__traceback__)

        task.add_done_callback(done)

    def _on_run_started(self) -> None:
        run = self.session.run
        assert run is not None
        # The matrix, bars and chart are rebuilt on the next turn of the loop (the session marked a
        # reset): starting a run already cost the runner's planning in this one.
        QTimer.singleShot(0, self._first_refresh)
        self.tabs.setCurrentIndex(2)
        self._ticks = 0
        self._frozen_at = run.done
        self.timer.start()
        self._update_buttons()
        self.status_message.emit(f"Running {run.suite_name or 'the suite'}: {run.planned} cases…")

    def _first_refresh(self) -> None:
        self.refresh()
        self._update_chart()

    def refresh(self) -> None:
        """Bring the matrix, the bars and (every few ticks) the chart up to date."""
        changes = self.session.take_changes()
        if not changes:
            return
        if changes.reset:
            self.matrix_model.reset()
            self.progress_model.set_rows(list(self.session.progress.values()))
        else:
            self.matrix_model.apply(changes)
            self.progress_model.refresh(changes.models)
        self._update_overall()
        run = self.session.run
        if run is not None and run.done - self._frozen_at >= FREEZE_EVERY:
            self._frozen_at = run.done
            gc.freeze()
        self._ticks += 1
        if self._ticks % CHART_EVERY == 0 or not self.session.running:
            self._update_chart()

    def _on_run_finished(self, status: RunStatus) -> None:
        self.timer.stop()
        self.refresh()
        self._update_chart()
        self._update_buttons()
        run = self.session.run
        if run is None:
            return
        said = {
            RunStatus.COMPLETE: "finished",
            RunStatus.CANCELLED: "cancelled (finished cases kept; Resume finishes it)",
            RunStatus.INTERRUPTED: "stopped by an error (Resume finishes it)",
        }.get(status, status.value)
        self.status_message.emit(f"Run {run.run_id} {said}: {run.done} of {run.planned} cases.")
        self.reload_runs()
        self.run_done.emit(run.run_id, status.value)

    def _on_run_loaded(self) -> None:
        self.matrix_model.reset()
        self.session.take_changes()
        self.progress_model.set_rows(list(self.session.progress.values()))
        self._update_chart()
        self._update_overall()
        self._update_buttons()

    def _update_overall(self) -> None:
        run = self.session.run
        if run is None or (
            not self.session.running and set(run.model_ids) != set(self.progress_model.model_ids())
        ):
            self.overall.setText("")
            return
        state = "running" if self.session.running else run.status.value
        self.overall.setText(f"Run {run.run_id} · {state} · {run.done} of {run.planned} cases")

    def _update_chart(self) -> None:
        stats = self.session.all_stats()
        winner = select_winner(stats) if len(stats) > 1 else None
        self.chart.set_stats(stats, [short_model_name(s.model_id) for s in stats], winner)

    def _update_buttons(self) -> None:
        running = self.session.running
        self.run_button.setEnabled(
            not running and self.session.suite is not None and len(self.session.picks) > 0
        )
        self.cancel_button.setEnabled(running)
        self.export_button.setEnabled(self.session.run is not None)
        self.open_button.setEnabled(not running)
        for name in ("openRun", "resumeRun"):
            getattr(self, f"{name}_button").setEnabled(not running)
        url = self.mlflow_url(self.session.run.run_id) if self.mlflow_url and self.session.run else None
        self.mlflow_button.setVisible(bool(url))

    def open_case(self, index: QModelIndex) -> QtCaseDialog | None:
        case = self.matrix_model.case_at(index)
        if case is None:
            return None
        dialog = QtCaseDialog(case, self)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.show()
        self._case_dialog = dialog
        return dialog

    async def shutdown(self) -> None:
        self.timer.stop()
        await self.session.shutdown()

    # ================================================================== export
    def ask_export(self, fmt: str) -> None:
        run = self.session.run
        if run is None:
            return
        suggested = str(Path.home() / f"{run.run_id}.{fmt}")
        path, _ = QFileDialog.getSaveFileName(
            self, f"Export as {fmt.upper()}", suggested, f"{fmt.upper()} (*.{fmt})"
        )
        if path:
            self.export_to(path, fmt)

    def export_to(self, path: str | Path, fmt: str | None = None) -> Path | None:
        try:
            written = self.session.export(path, fmt)
        except ModelDeskError as exc:
            self.error_raised.emit(exc)
            return None
        self.status_message.emit(f"Exported {written}")
        return written

    def _open_in_mlflow(self) -> None:
        from PySide6.QtCore import QUrl
        from PySide6.QtGui import QDesktopServices

        run = self.session.run
        url = self.mlflow_url(run.run_id) if self.mlflow_url and run else None
        if url:
            QDesktopServices.openUrl(QUrl(url))

    # ================================================================== past runs
    def reload_runs(self) -> None:
        runs = past_runs(self.ctx)
        self.runs_model.set_runs(runs)
        self.tabs.setTabText(3, f"Runs ({len(runs)})")
        shown = self.session.run.run_id if self.session.run else None
        stopped = [r for r in runs if r.resumable and r.run_id != shown]
        if stopped and not self.session.running:
            r = stopped[0]
            self._banner_run = r
            when = r.started_at.astimezone().strftime("%Y-%m-%d %H:%M") if r.started_at else ""
            self.banner_text.setText(
                f"The run of “{r.suite_name or 'a suite'}” started {when} on {len(r.model_ids)} model"
                f"{'s' if len(r.model_ids) != 1 else ''} stopped before its end ({r.status.value}). "
                "Resume it to run only the cases that are missing."
            )
            self.banner.show()
        else:
            self.banner.hide()

    def _selected_run_row(self) -> int:
        rows = self.runs_view.selectionModel().selectedRows()
        return rows[0].row() if rows else -1

    def open_run_at(self, row: int) -> None:
        info = self.runs_model.run_at(row)
        if info is None:
            return
        try:
            self.session.open_run(info.path)
        except ModelDeskError as exc:
            self.error_raised.emit(exc)
            return
        self.tabs.setCurrentIndex(2)
        self.status_message.emit(f"Opened run {info.run_id}")

    def _resume_selected(self) -> None:
        info = self.runs_model.run_at(self._selected_run_row())
        if info is not None:
            if not info.resumable:
                self.status_message.emit(f"Run {info.run_id} is complete: nothing to resume.")
                return
            self.resume_run(info.run_id)

    def _compare_selected(self) -> None:
        info = self.runs_model.run_at(self._selected_run_row())
        if info is not None:
            self.compare_with(info)

    def compare_with(self, info: RunInfo) -> RunComparison | None:
        from desktop_app.services.run_files import load_run

        shown = self.session.run
        if shown is None:
            self.status_message.emit("Open or run one run first, then compare another run with it.")
            return None
        try:
            other = load_run(info.path)
        except ModelDeskError as exc:
            self.error_raised.emit(exc)
            return None
        old, new = sorted([other, shown], key=lambda r: r.started_at)
        diff = compare_runs(old, new)
        self.comparison = diff
        self.compare_text.setHtml(_comparison_html(diff))
        return diff


class _MatrixView(QTableView):
    """The matrix: a few models share the width, many keep a readable width each and scroll."""

    MIN_COLUMN = 112

    def fit_columns(self) -> None:
        model = self.model()
        n = model.columnCount() if model is not None else 0
        if not n:
            return
        width = max(self.MIN_COLUMN, self.viewport().width() // n)
        header = self.horizontalHeader()
        for col in range(n):
            header.resizeSection(col, width)

    def resizeEvent(self, event: Any) -> None:
        super().resizeEvent(event)
        self.fit_columns()


def _comparison_html(diff: RunComparison) -> str:
    import html

    def fmt(rate: float | None) -> str:
        return "—" if rate is None else f"{rate:.0f}%"

    parts = [
        f"<p><b>{html.escape(diff.old_id)}</b> → <b>{html.escape(diff.new_id)}</b>: {html.escape(diff.summary())}</p>",
        "<table cellpadding='3'><tr><th align='left'>Model</th><th>before</th><th>after</th></tr>",
    ]
    for model, (a, b) in diff.pass_rates.items():
        color = (
            "#15803d"
            if (a is not None and b is not None and b > a)
            else "#b91c1c"
            if (a is not None and b is not None and b < a)
            else "inherit"
        )
        parts.append(
            f"<tr><td>{html.escape(model)}</td><td align='right'>{fmt(a)}</td>"
            f"<td align='right' style='color:{color}'>{fmt(b)}</td></tr>"
        )
    parts.append("</table>")
    for title, items, color in (("Better", diff.better, "#15803d"), ("Worse", diff.worse, "#b91c1c")):
        if items:
            rows = "".join(
                f"<li>{html.escape(c.model_id)} · case {c.case_index}: {c.before} → {c.after}</li>"
                for c in items[:50]
            )
            more = f"<li>… and {len(items) - 50} more</li>" if len(items) > 50 else ""
            parts.append(f"<h4 style='color:{color}'>{title} ({len(items)})</h4><ul>{rows}{more}</ul>")
    return "".join(parts)
