"""The ``.prompt.yml`` editor: monospace, YAML highlighting, line numbers, and the parser's error shown
at its line as you type (debounced; the same parser as ``modeldesk eval``)."""

from __future__ import annotations

import re

from PySide6.QtCore import QEvent, QRect, QSize, Qt, QTimer, Signal
from PySide6.QtGui import (
    QColor,
    QFont,
    QFontDatabase,
    QPainter,
    QPaintEvent,
    QPalette,
    QResizeEvent,
    QSyntaxHighlighter,
    QTextCharFormat,
    QTextCursor,
    QTextDocument,
    QTextFormat,
)
from PySide6.QtWidgets import QApplication, QLabel, QPlainTextEdit, QTextEdit, QVBoxLayout, QWidget

from desktop_app.services.eval_session import SuiteCheck

__all__ = ["DEBOUNCE_MS", "QtSuiteEditor", "QtYamlHighlighter"]

DEBOUNCE_MS = 350  # a pause in typing this long parses the text again


def _fmt(color: str, *, bold: bool = False, italic: bool = False) -> QTextCharFormat:
    f = QTextCharFormat()
    f.setForeground(QColor(color))
    if bold:
        f.setFontWeight(QFont.Weight.Bold)
    f.setFontItalic(italic)
    return f


class QtYamlHighlighter(QSyntaxHighlighter):
    """Keys, comments, strings, numbers and booleans, list dashes and ``{{variables}}``; block scalars
    (``|``, ``>``) are left as text."""

    _KEY = re.compile(r"^(\s*(?:-\s+)?)([A-Za-z_][\w .-]*?)(\s*:)(?=\s|$)")
    _DASH = re.compile(r"^\s*(-)(?=\s|$)")
    _COMMENT = re.compile(r"(?:^|\s)(#.*)$")
    _STRING = re.compile(r"'[^']*'|\"(?:[^\"\\]|\\.)*\"")
    _SCALAR = re.compile(r":\s+(true|false|null|~|-?\d+(?:\.\d+)?)\s*$", re.IGNORECASE)
    _VAR = re.compile(r"\{\{\s*[\w.-]+\s*\}\}")

    # (light theme, dark theme) colours: keys, dashes and comments, strings, scalars, {{variables}}
    _COLORS = {
        "key": ("#1d4ed8", "#93c5fd"),
        "muted": ("#6b7280", "#9ca3af"),
        "string": ("#047857", "#6ee7b7"),
        "scalar": ("#9333ea", "#d8b4fe"),
        "variable": ("#c2410c", "#fdba74"),
    }

    def __init__(self, document: QTextDocument) -> None:
        super().__init__(document)
        self._dark: bool | None = None
        self.follow_palette()

    def follow_palette(self) -> None:
        """Take the colours for the application's current theme (light or dark), and repaint with them
        when the theme changed: pale keys made for dark were unreadable on white after a switch."""
        base = QApplication.palette().color(QPalette.ColorRole.Base)
        dark = base.lightness() < 128
        if dark == self._dark:
            return
        first = self._dark is None
        self._dark = dark
        c = {name: pair[int(dark)] for name, pair in self._COLORS.items()}
        self.key = _fmt(c["key"], bold=True)
        self.dash = _fmt(c["muted"], bold=True)
        self.comment = _fmt(c["muted"], italic=True)
        self.string = _fmt(c["string"])
        self.scalar = _fmt(c["scalar"])
        self.variable = _fmt(c["variable"], bold=True)
        if not first:
            self.rehighlight()

    def highlightBlock(self, text: str) -> None:
        m = self._KEY.match(text)
        if m:
            self.setFormat(m.start(2), len(m.group(2)), self.key)
        d = self._DASH.match(text)
        if d:
            self.setFormat(d.start(1), 1, self.dash)
        for s in self._STRING.finditer(text):
            self.setFormat(s.start(), s.end() - s.start(), self.string)
        sc = self._SCALAR.search(text)
        if sc:
            self.setFormat(sc.start(1), len(sc.group(1)), self.scalar)
        for v in self._VAR.finditer(text):
            self.setFormat(v.start(), v.end() - v.start(), self.variable)
        c = self._COMMENT.search(text)
        if c and not self._in_string(text, c.start(1)):
            self.setFormat(c.start(1), len(text) - c.start(1), self.comment)

    def _in_string(self, text: str, pos: int) -> bool:
        return any(s.start() < pos < s.end() for s in self._STRING.finditer(text))


class _Gutter(QWidget):
    def __init__(self, editor: _CodeEdit) -> None:
        super().__init__(editor)
        self.editor = editor

    def sizeHint(self) -> QSize:
        return QSize(self.editor.gutter_width(), 0)

    def paintEvent(self, event: QPaintEvent) -> None:
        self.editor.paint_gutter(event)


class QtSuiteEditor(QWidget):
    """The editor and, under it, the parser's verdict. ``text_settled`` fires once typing pauses."""

    text_settled = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(4)
        self.edit = _CodeEdit(self)
        self.edit.setObjectName("suiteEditor")
        layout.addWidget(self.edit, 1)
        self.problem = QLabel()
        self.problem.setObjectName("suiteProblem")
        self.problem.setWordWrap(True)
        self.problem.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        layout.addWidget(self.problem)
        self.highlighter = QtYamlHighlighter(self.edit.document())
        self.error_line: int | None = None
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(DEBOUNCE_MS)
        self._timer.timeout.connect(lambda: self.text_settled.emit(self.edit.toPlainText()))
        self._loading = False
        self.edit.textChanged.connect(self._on_changed)

    def set_text(self, text: str) -> None:
        """Load a file's text (no debounce: the caller parses it at once)."""
        self._loading = True
        try:
            self.edit.setPlainText(text)
        finally:
            self._loading = False

    def text(self) -> str:
        return self.edit.toPlainText()

    def _on_changed(self) -> None:
        if not self._loading:
            self._timer.start()

    def flush(self) -> None:
        """Parse now if typing is pending (before Run, Save…)."""
        if self._timer.isActive():
            self._timer.stop()
            self.text_settled.emit(self.edit.toPlainText())

    def show_check(self, check: SuiteCheck) -> None:
        """Mark the error's line (red background and a marker in the gutter) and say what is wrong."""
        self.error_line = check.line if not check.ok else None
        selections: list[QTextEdit.ExtraSelection] = []
        if self.error_line is not None:
            block = self.edit.document().findBlockByNumber(self.error_line - 1)
            if block.isValid():
                sel = QTextEdit.ExtraSelection()
                sel.format.setBackground(QColor(220, 38, 38, 45))
                sel.format.setProperty(QTextFormat.Property.FullWidthSelection, True)
                cursor = QTextCursor(block)
                sel.cursor = cursor
                selections.append(sel)
        self.edit.setExtraSelections(selections)
        self.edit.gutter.update()
        if check.ok:
            suite = check.suite
            assert suite is not None
            text = (
                f"✓ {len(suite.test_data)} test case{'s' if len(suite.test_data) != 1 else ''}, "
                f"{len(suite.evaluators)} evaluator{'s' if len(suite.evaluators) != 1 else ''}"
            )
            if check.warnings:
                text += " — " + "; ".join(check.warnings)
            self.problem.setStyleSheet("color: #15803d;" if not check.warnings else "color: #b45309;")
            self.problem.setText(text)
        else:
            where = f"Line {check.line}: " if check.line is not None else ""
            self.problem.setStyleSheet("color: #dc2626;")
            self.problem.setText(f"✗ {where}{check.error}")

    def go_to_error(self) -> None:
        if self.error_line is None:
            return
        block = self.edit.document().findBlockByNumber(self.error_line - 1)
        if block.isValid():
            self.edit.setTextCursor(QTextCursor(block))
            self.edit.centerCursor()
            self.edit.setFocus()


class _CodeEdit(QPlainTextEdit):
    def changeEvent(self, event: QEvent) -> None:
        super().changeEvent(event)
        if event.type() == QEvent.Type.PaletteChange:
            highlighter = getattr(self.owner, "highlighter", None)  # None while the editor is being made
            if highlighter is not None:
                highlighter.follow_palette()

    def __init__(self, owner: QtSuiteEditor) -> None:
        super().__init__(owner)
        self.owner = owner
        font = QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont)
        self.setFont(font)
        self.setLineWrapMode(QPlainTextEdit.LineWrapMode.NoWrap)
        self.setTabStopDistance(self.fontMetrics().horizontalAdvance(" ") * 2)
        self.gutter = _Gutter(self)
        self.blockCountChanged.connect(lambda _n: self.setViewportMargins(self.gutter_width(), 0, 0, 0))
        self.updateRequest.connect(self._on_update_request)
        self.setViewportMargins(self.gutter_width(), 0, 0, 0)

    def gutter_width(self) -> int:
        digits = max(3, len(str(self.blockCount())))
        return 12 + self.fontMetrics().horizontalAdvance("9") * digits

    def _on_update_request(self, rect: QRect, dy: int) -> None:
        if dy:
            self.gutter.scroll(0, dy)
        else:
            self.gutter.update(0, rect.y(), self.gutter.width(), rect.height())

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        cr = self.contentsRect()
        self.gutter.setGeometry(QRect(cr.left(), cr.top(), self.gutter_width(), cr.height()))

    def paint_gutter(self, event: QPaintEvent) -> None:
        p = QPainter(self.gutter)
        pal = self.palette()
        p.fillRect(event.rect(), pal.color(pal.ColorRole.AlternateBase))
        block = self.firstVisibleBlock()
        number = block.blockNumber()
        top = round(self.blockBoundingGeometry(block).translated(self.contentOffset()).top())
        bottom = top + round(self.blockBoundingRect(block).height())
        error = self.owner.error_line
        width = self.gutter.width()
        height = self.fontMetrics().height()
        while block.isValid() and top <= event.rect().bottom():
            if block.isVisible() and bottom >= event.rect().top():
                if error is not None and number + 1 == error:
                    p.fillRect(0, top, width, height, QColor(220, 38, 38, 160))
                    p.setPen(QColor("white"))
                else:
                    p.setPen(pal.color(pal.ColorGroup.Disabled, pal.ColorRole.Text))
                p.drawText(0, top, width - 6, height, int(Qt.AlignmentFlag.AlignRight), str(number + 1))
            block = block.next()
            top = bottom
            bottom = top + round(self.blockBoundingRect(block).height())
            number += 1
        p.end()
