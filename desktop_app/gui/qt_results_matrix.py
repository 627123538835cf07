"""The results matrix: test cases × models, each cell coloured by pass / fail / error and shaded by its
mean score, a summary row on top; a cell opens the whole output and every evaluator's verdict.

The model reads an :class:`~desktop_app.services.eval_session.EvalSession` and repaints only the cells a
:class:`~desktop_app.services.eval_session.Changes` names, so a run of thousands of cases costs one small
``dataChanged`` per refresh tick, not a reset.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QPersistentModelIndex, Qt
from PySide6.QtGui import QColor, QFont, QFontDatabase, QPainter, QPalette
from PySide6.QtWidgets import (
    QApplication,
    QDialog,
    QDialogButtonBox,
    QLabel,
    QPlainTextEdit,
    QStyle,
    QStyledItemDelegate,
    QStyleOptionViewItem,
    QTabWidget,
    QTextBrowser,
    QVBoxLayout,
    QWidget,
)

from desktop_app.core.evaluation import CaseResult, ModelStats
from desktop_app.services.eval_session import Changes, EvalSession, cell_state, mean_score

__all__ = [
    "CASE_ROLE",
    "PAINT_ROLE",
    "QtCaseDialog",
    "QtMatrixDelegate",
    "QtResultsMatrixModel",
    "cell_text",
    "short_model_name",
]

_Index = QModelIndex | QPersistentModelIndex
CASE_ROLE = int(Qt.ItemDataRole.UserRole) + 1  # the CaseResult of a cell (None: not run yet)
STATE_ROLE = int(Qt.ItemDataRole.UserRole) + 2  # "pass" | "fail" | "error" | "empty" | "summary"
PAINT_ROLE = int(Qt.ItemDataRole.UserRole) + 3  # (text, background, alignment, state): all a paint needs

_COLORS = {
    "pass": QColor(34, 160, 84),
    "fail": QColor(214, 69, 65),
    "error": QColor(217, 119, 6),
}


def short_model_name(model_id: str) -> str:
    """``ollama/llama3.2:latest`` → ``llama3.2``; ``openrouter/openai/gpt-4.1`` → ``gpt-4.1``."""
    name = model_id.rsplit("/", 1)[-1]
    return name.removesuffix(":latest")


def cell_text(case: CaseResult | None) -> str:
    state = cell_state(case)
    if case is None:
        return ""
    if state == "error":
        return "! error"
    score = mean_score(case)
    mark = "✓" if state == "pass" else "✗"
    return f"{mark} {score:.2f}" if score is not None else mark


def summary_text(stats: ModelStats, total: int) -> str:
    if not stats.total:
        return f"0/{total}"
    text = f"{stats.pass_rate:.0f}% ({stats.passed}/{stats.total})"
    return text + (f" · {stats.errors}!" if stats.errors else "")


class QtResultsMatrixModel(QAbstractTableModel):
    """Row 0: each model's summary (pass rate, passed/total, errors); rows 1..n: the test cases."""

    def __init__(self, session: EvalSession, parent: Any = None) -> None:
        super().__init__(parent)
        self.session = session
        self._models: list[str] = []
        self._cases = 0
        self._column: dict[str, int] = {}
        self._stats: dict[str, ModelStats] = {}
        self._labels: dict[int, str] = {}
        # What a paint asks of a cell (text, background, alignment, state), made once per change.
        self._cells: dict[tuple[int, int], tuple[Any, ...]] = {}
        self.reset()

    # ------------------------------------------------------------------ our API
    def reset(self) -> None:
        self.beginResetModel()
        self._models = self.session.model_ids()
        self._column = {m: i for i, m in enumerate(self._models)}
        self._cases = self.session.case_count()
        self._stats = {m: self.session.stats(m) for m in self._models}
        self._labels = {}
        self._cells = {}
        self.endResetModel()

    def apply(self, changes: Changes) -> None:
        """Repaint what changed: the cells named, and the summary cells of their models."""
        if changes.reset or self.session.model_ids() != self._models:
            self.reset()
            return
        if not changes.cells and not changes.models:
            return
        for model_id in changes.models:
            if model_id in self._column:
                self._stats[model_id] = self.session.stats(model_id)
        columns = sorted(self._column[m] for m in changes.models if m in self._column)
        if columns:
            self.dataChanged.emit(self.index(0, columns[0]), self.index(0, columns[-1]))
        # One rectangle spanning the changed cells: Qt repaints only what is visible of it.
        rows = [i + 1 for m, i in changes.cells if m in self._column and i < self._cases]
        cols = [self._column[m] for m, i in changes.cells if m in self._column and i < self._cases]
        for r, c in zip(rows, cols, strict=True):
            self._cells.pop((r, c), None)
        if rows:
            self.dataChanged.emit(self.index(min(rows), min(cols)), self.index(max(rows), max(cols)))

    def case_at(self, index: _Index) -> CaseResult | None:
        if not index.isValid() or index.row() == 0:
            return None
        return self.session.result(self._models[index.column()], index.row() - 1)

    def model_id_at(self, column: int) -> str:
        return self._models[column]

    # ------------------------------------------------------------------ Qt
    def rowCount(self, parent: _Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() or not self._models else self._cases + 1

    def columnCount(self, parent: _Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self._models)

    def data(self, index: _Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid():
            return None
        row, col = index.row(), index.column()
        if row >= self._cases + 1 or col >= len(self._models):
            return None
        model_id = self._models[col]
        if row == 0:
            if role == PAINT_ROLE:
                stats = self._stats.get(model_id)
                return (summary_text(stats, self._cases) if stats else "", None, _CENTER, "summary")
            return self._summary_data(model_id, role)
        if role in _PAINT_ROLES or role == PAINT_ROLE:
            key = (row, col)
            cell = self._cells.get(key)
            if cell is None:
                cell = self._cells[key] = _paint_cell(self.session.result(model_id, row - 1))
            return cell if role == PAINT_ROLE else cell[_PAINT_ROLES[role]]
        case = self.session.result(model_id, row - 1)
        if role == Qt.ItemDataRole.ToolTipRole:
            return self._tooltip(model_id, row - 1, case)
        if role == CASE_ROLE:
            return case
        if role == Qt.ItemDataRole.AccessibleTextRole:
            return f"{model_id}, case {row - 1}: {cell_state(case)}"
        return None

    def _summary_data(self, model_id: str, role: int) -> Any:
        stats = self._stats.get(model_id)
        if stats is None:
            return None
        if role == Qt.ItemDataRole.DisplayRole:
            return summary_text(stats, self._cases)
        if role == Qt.ItemDataRole.FontRole:
            font = QFont()
            font.setBold(True)
            return font
        if role == Qt.ItemDataRole.TextAlignmentRole:
            return int(Qt.AlignmentFlag.AlignCenter)
        if role == Qt.ItemDataRole.ToolTipRole:
            lat = stats.latency_p50_s
            latency = f"\nlatency p50 {lat:.2f} s" if lat is not None else ""
            scores = "".join(f"\n{name}: {value:.2f}" for name, value in stats.mean_scores.items())
            return (
                f"{model_id}\n{stats.passed} passed, {stats.failed - stats.errors} failed, "
                f"{stats.errors} errors of {stats.total} run ({self._cases} planned){latency}{scores}"
            )
        if role == STATE_ROLE:
            return "summary"
        return None

    def _tooltip(self, model_id: str, case_index: int, case: CaseResult | None) -> str:
        if case is None:
            return f"{model_id}, case {case_index}: not run yet"
        lines = [f"{model_id}, case {case_index}"]
        if case.error:
            lines.append(f"Error: {case.error}")
        for e in case.evaluations:
            mark = "!" if e.error else ("✓" if e.passed else "✗")
            lines.append(f"{mark} {e.evaluator_name}: {e.score:.2f}")
        lines.append("Double-click (or Enter) for the whole output and every verdict.")
        return "\n".join(lines)

    def headerData(
        self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole
    ) -> Any:
        if orientation == Qt.Orientation.Horizontal:
            if not 0 <= section < len(self._models):
                return None
            if role == Qt.ItemDataRole.DisplayRole:
                return short_model_name(self._models[section])
            if role == Qt.ItemDataRole.ToolTipRole:
                return self._models[section]
            return None
        if not 0 <= section < self._cases + 1:
            return None
        if role == Qt.ItemDataRole.DisplayRole:
            return "Summary" if section == 0 else self._case_label(section - 1)
        if role == Qt.ItemDataRole.ToolTipRole and section > 0:
            variables = self.session.test_case(section - 1)
            return "\n".join(f"{k}: {str(v)[:200]}" for k, v in variables.items()) or None
        return None

    def _case_label(self, case_index: int) -> str:
        label = self._labels.get(case_index)
        if label is None:
            variables = self.session.test_case(case_index)
            first = next((str(v) for v in variables.values()), "")
            first = " ".join(first.split())
            label = f"#{case_index}" + (f" {first[:22]}{'…' if len(first) > 22 else ''}" if first else "")
            self._labels[case_index] = label
        return label


_CENTER = int(Qt.AlignmentFlag.AlignCenter)
_PAINT_ROLES = {
    int(Qt.ItemDataRole.DisplayRole): 0,
    int(Qt.ItemDataRole.BackgroundRole): 1,
    int(Qt.ItemDataRole.TextAlignmentRole): 2,
    STATE_ROLE: 3,
}


def _paint_cell(case: CaseResult | None) -> tuple[str, QColor | None, int, str]:
    state = cell_state(case)
    if case is None or state == "empty":
        return "", None, _CENTER, state
    color = QColor(_COLORS[state])
    score = mean_score(case) if state != "error" else None
    # Stronger for a clear verdict: a pass at score 1.0 is greener than one at 0.6.
    strength = 0.18 + 0.22 * (score if state == "pass" and score is not None else 1 - (score or 0))
    color.setAlphaF(min(0.45, strength) if state != "error" else 0.3)
    return cell_text(case), color, _CENTER, state


class QtMatrixDelegate(QStyledItemDelegate):
    """Paints a cell from one ``PAINT_ROLE`` answer (the stock delegate asks for eight roles per cell,
    each a call into Python: a run's refresh repainted hundreds of cells that way)."""

    def __init__(self, parent: Any = None) -> None:
        super().__init__(parent)
        self._bold: QFont | None = None

    def paint(self, painter: QPainter, option: QStyleOptionViewItem, index: _Index) -> None:
        cell = index.data(PAINT_ROLE)
        if cell is None:
            super().paint(painter, option, index)
            return
        text, color, _align, state = cell
        widget = option.widget
        style = widget.style() if widget is not None else QApplication.style()
        if color is not None:
            painter.fillRect(option.rect, color)
        style.drawPrimitive(QStyle.PrimitiveElement.PE_PanelItemViewItem, option, painter, widget)
        if not text:
            return
        selected = bool(option.state & QStyle.StateFlag.State_Selected)
        role = QPalette.ColorRole.HighlightedText if selected else QPalette.ColorRole.Text
        painter.save()
        painter.setPen(option.palette.color(role))
        if state == "summary":
            if self._bold is None:
                self._bold = QFont(option.font)
                self._bold.setBold(True)
            painter.setFont(self._bold)
        rect = option.rect.adjusted(3, 0, -3, 0)
        shown = painter.fontMetrics().elidedText(text, Qt.TextElideMode.ElideRight, rect.width())
        painter.drawText(rect, _CENTER, shown)
        painter.restore()


class QtCaseDialog(QDialog):
    """One cell in full: the output (and thinking), every evaluator's verdict and reasoning, the messages
    sent, the measurements."""

    def __init__(self, case: CaseResult, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("caseDialog")
        self.setWindowTitle(f"{case.model_id} — case {case.case_index}")
        self.resize(760, 560)
        layout = QVBoxLayout(self)
        state = cell_state(case)
        verdict = {"pass": "✓ passed", "fail": "✗ failed", "error": "! error", "empty": ""}[state]
        facts = []
        if case.latency_s is not None:
            facts.append(f"latency {case.latency_s:.2f} s")
        if case.ttft_s is not None:
            facts.append(f"first token {case.ttft_s:.2f} s")
        if case.tokens_per_s:
            facts.append(f"{case.tokens_per_s:.1f} tok/s")
        if case.completion_tokens is not None:
            facts.append(f"{case.completion_tokens} tokens")
        head = QLabel(f"<b>{verdict}</b> &nbsp; {' · '.join(facts)}")
        head.setObjectName("caseVerdict")
        layout.addWidget(head)
        if case.error:
            error = QLabel(case.error)
            error.setObjectName("caseError")
            error.setWordWrap(True)
            error.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
            error.setStyleSheet("color: #b45309;")
            layout.addWidget(error)
        tabs = QTabWidget()
        mono = QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont)
        self.output = QPlainTextEdit(case.output or "(no output)")
        self.output.setObjectName("caseOutput")
        self.output.setReadOnly(True)
        self.output.setFont(mono)
        tabs.addTab(self.output, "Output")
        self.verdicts = QTextBrowser()
        self.verdicts.setObjectName("caseVerdicts")
        self.verdicts.setHtml(_verdicts_html(case))
        tabs.addTab(self.verdicts, f"Evaluators ({len(case.evaluations)})")
        if case.thinking:
            thinking = QPlainTextEdit(case.thinking)
            thinking.setReadOnly(True)
            tabs.addTab(thinking, "Thinking")
        sent = QPlainTextEdit("\n\n".join(f"[{m.role}]\n{m.content}" for m in case.messages))
        sent.setReadOnly(True)
        sent.setFont(mono)
        tabs.addTab(sent, "Messages sent")
        layout.addWidget(tabs, 1)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        layout.addWidget(buttons)


def _verdicts_html(case: CaseResult) -> str:
    import html

    if not case.evaluations:
        return (
            "<p>No evaluator ran on this case" + (" (it ended in an error)." if case.error else ".") + "</p>"
        )
    rows = []
    for e in case.evaluations:
        if e.error:
            mark, color = "! could not check", "#b45309"
        elif e.passed:
            mark, color = "✓ passed", "#15803d"
        else:
            mark, color = "✗ failed", "#b91c1c"
        details = html.escape(e.details or "").replace("\n", "<br>")
        rows.append(
            f"<h4 style='margin-bottom:2px'>{html.escape(e.evaluator_name)} — "
            f"<span style='color:{color}'>{mark}</span> · score {e.score:.2f}</h4><p>{details}</p>"
        )
    return "".join(rows)
