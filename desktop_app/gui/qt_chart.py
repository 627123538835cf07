"""Per-model bar charts drawn with QPainter (PySide6-Essentials has no QtCharts): pass rate (0–100 %)
and latency (p50 solid, p95 light), one row per model, side by side."""

from __future__ import annotations

from collections.abc import Sequence

from PySide6.QtCore import QRectF, QSize, Qt
from PySide6.QtGui import QColor, QPainter, QPaintEvent, QPalette
from PySide6.QtWidgets import QSizePolicy, QWidget

from desktop_app.core.evaluation import ModelStats

__all__ = ["QtStatsChart", "format_seconds"]

_PASS = QColor(34, 160, 84)
_FAIL = QColor(214, 69, 65, 70)
_P50 = QColor(59, 111, 216)
_P95 = QColor(169, 193, 242)
_ROW_H = 22
_TOP = 26


def format_seconds(value: float | None) -> str:
    if value is None:
        return "—"
    return f"{value * 1000:.0f} ms" if value < 1 else f"{value:.2f} s"


class QtStatsChart(QWidget):
    """``set_stats`` and it repaints; ``labels`` name the rows (short model names)."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("statsChart")
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Preferred)
        self.stats: list[ModelStats] = []
        self.labels: list[str] = []
        self.winner: str | None = None

    def set_stats(
        self, stats: Sequence[ModelStats], labels: Sequence[str], winner: str | None = None
    ) -> None:
        self.stats, self.labels, self.winner = list(stats), list(labels), winner
        self.updateGeometry()
        self.update()

    def sizeHint(self) -> QSize:
        return QSize(600, _TOP + _ROW_H * max(1, len(self.stats)) + 28)

    def minimumSizeHint(self) -> QSize:
        return QSize(320, _TOP + _ROW_H + 28)

    def paintEvent(self, event: QPaintEvent) -> None:
        p = QPainter(self)
        p.setRenderHint(QPainter.RenderHint.Antialiasing)
        pal = self.palette()
        text = pal.color(QPalette.ColorRole.Text)
        muted = pal.color(QPalette.ColorGroup.Disabled, QPalette.ColorRole.Text)
        fm = p.fontMetrics()
        if not self.stats:
            p.setPen(muted)
            p.drawText(self.rect(), int(Qt.AlignmentFlag.AlignCenter), "The chart fills in as cases finish.")
            p.end()
            return
        w = self.width()
        label_w = min(200, max(fm.horizontalAdvance(x) for x in self.labels) + 16, int(w * 0.3))
        gap = 24
        panel_w = max(60, (w - label_w - gap - 12) // 2)
        x_pass = label_w
        x_lat = label_w + panel_w + gap
        value_w = fm.horizontalAdvance("100% ") + 4
        p.setPen(text)
        bold = p.font()
        bold.setBold(True)
        p.save()
        p.setFont(bold)
        p.drawText(QRectF(x_pass, 2, panel_w, _TOP - 6), int(Qt.AlignmentFlag.AlignLeft), "Pass rate")
        p.drawText(QRectF(x_lat, 2, panel_w, _TOP - 6), int(Qt.AlignmentFlag.AlignLeft), "Latency")
        p.restore()
        legend_x = x_lat + fm.horizontalAdvance("Latency") + 14
        for color, name in ((_P50, "p50"), (_P95, "p95")):
            p.fillRect(QRectF(legend_x, 6, 10, 10), color)
            p.drawText(QRectF(legend_x + 13, 2, 40, _TOP - 6), int(Qt.AlignmentFlag.AlignLeft), name)
            legend_x += 48
        latencies = [s.latency_p95_s or s.latency_p50_s or 0.0 for s in self.stats]
        top_latency = max(latencies) or 1.0
        lat_bar_w = max(20, panel_w - fm.horizontalAdvance("00.00 s") - 8)
        pass_bar_w = max(20, panel_w - value_w)
        for i, (s, label) in enumerate(zip(self.stats, self.labels, strict=True)):
            y = _TOP + i * _ROW_H
            name = fm.elidedText(
                ("★ " if s.model_id == self.winner else "") + label,
                Qt.TextElideMode.ElideMiddle,
                label_w - 10,
            )
            p.setPen(text)
            p.drawText(
                QRectF(0, y, label_w - 8, _ROW_H),
                int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter),
                name,
            )
            bar = QRectF(x_pass, y + 4, pass_bar_w, _ROW_H - 8)
            p.fillRect(bar, _FAIL if s.total else muted.lighter(150))
            if s.total:
                p.fillRect(QRectF(bar.x(), bar.y(), bar.width() * s.pass_rate / 100, bar.height()), _PASS)
            rate = f"{s.pass_rate:.0f}%" if s.total else "—"
            p.drawText(QRectF(bar.right() + 4, y, value_w, _ROW_H), int(Qt.AlignmentFlag.AlignVCenter), rate)
            p50, p95 = s.latency_p50_s, s.latency_p95_s
            if p50 is None:
                p.setPen(muted)
                p.drawText(
                    QRectF(x_lat, y, panel_w, _ROW_H), int(Qt.AlignmentFlag.AlignVCenter), "no latency yet"
                )
                continue
            scale = lat_bar_w / top_latency
            p95v = p95 if p95 is not None else p50
            half = (_ROW_H - 8) / 2
            p.fillRect(QRectF(x_lat, y + 4, max(1.0, p50 * scale), half), _P50)
            p.fillRect(QRectF(x_lat, y + 4 + half, max(1.0, p95v * scale), half), _P95)
            p.drawText(
                QRectF(x_lat + p95v * scale + 4, y, 90, _ROW_H),
                int(Qt.AlignmentFlag.AlignVCenter),
                format_seconds(p95v),
            )
        axis_y = _TOP + len(self.stats) * _ROW_H + 4
        p.setPen(muted)
        p.drawLine(int(x_pass), axis_y, int(x_pass + pass_bar_w), axis_y)
        p.drawLine(int(x_lat), axis_y, int(x_lat + lat_bar_w), axis_y)
        p.drawText(QRectF(x_pass, axis_y + 2, 40, 18), int(Qt.AlignmentFlag.AlignLeft), "0")
        p.drawText(
            QRectF(x_pass + pass_bar_w - 50, axis_y + 2, 50, 18), int(Qt.AlignmentFlag.AlignRight), "100%"
        )
        p.drawText(QRectF(x_lat, axis_y + 2, 40, 18), int(Qt.AlignmentFlag.AlignLeft), "0")
        p.drawText(
            QRectF(x_lat + lat_bar_w - 80, axis_y + 2, 80, 18),
            int(Qt.AlignmentFlag.AlignRight),
            format_seconds(top_latency),
        )
        p.end()
