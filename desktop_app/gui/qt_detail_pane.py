"""The detail pane: every fact about the selected model, and what can be done with it."""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import QSize, Qt, Signal
from PySide6.QtGui import QGuiApplication, QPainter, QPixmap
from PySide6.QtWidgets import (
    QFormLayout,
    QFrame,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QScrollArea,
    QSizePolicy,
    QVBoxLayout,
    QWidget,
)

from desktop_app.core.enums import Category, ModelStatus
from desktop_app.core.kinds import can_delete, kind_spec
from desktop_app.core.units import format_bytes
from desktop_app.gui import icons
from desktop_app.gui.labels import (
    CATEGORY_EMPTY_HINTS,
    CATEGORY_HELP,
    CATEGORY_LABELS,
    badge_of,
    cloud_note,
    status_explanation,
)

if TYPE_CHECKING:
    from desktop_app.core.models import UnifiedModel
    from desktop_app.core.pools import Pool

__all__ = ["QtDetailPane", "badge_pixmap", "pool_fact"]


_FACTS: tuple[tuple[str, str], ...] = (
    ("source", "Source"),
    ("pool", "Pool"),
    ("status", "Status"),
    ("cloud", "Cloud"),
    ("categories", "Categories"),
    ("capabilities", "Capabilities"),
    ("parameter_size", "Parameter size"),
    ("quantization", "Quantization"),
    ("context_length", "Context length"),
    ("size", "Size on disk"),
    ("rate_limit_tier", "Rate-limit tier"),
    ("family", "Family"),
    ("publisher", "Publisher"),
    ("parent", "Parent"),
    ("updated", "Updated"),
)


_ALWAYS_SHOWN = frozenset({"source", "status", "categories", "capabilities", "updated"})


def _kind_label(kind: str) -> str:
    spec = kind_spec(kind)
    return spec.label if spec is not None else str(kind)


def pool_fact(pool: Pool) -> str:
    """``pool/llama3.2:latest · 3 hosts (gpu-a, gpu-b, ollama)``; each host's weight when they differ
    from 1."""
    weighted = any(m.weight != 1 for m in pool.members)
    hosts = ", ".join(f"{m.source} ×{m.weight:g}" if weighted else m.source for m in pool.members)
    return f"{pool.id} · {len(pool.members)} hosts ({hosts})"


def badge_pixmap(badge: str, height: int = 18) -> QPixmap:
    renderer = icons.badge_renderer(badge)
    if renderer is None:
        return QPixmap()
    size = renderer.defaultSize()
    width = int(size.width() * height / max(1, size.height()))
    app = QGuiApplication.instance()
    ratio = app.devicePixelRatio() if isinstance(app, QGuiApplication) else 1.0
    px = QPixmap(int(width * ratio), int(height * ratio))
    px.setDevicePixelRatio(ratio)
    px.fill(Qt.GlobalColor.transparent)
    painter = QPainter(px)
    renderer.render(painter)
    painter.end()
    return px


class QtDetailPane(QScrollArea):
    chat_requested = Signal(object)
    delete_requested = Signal(object)
    copy_requested = Signal(object)
    variant_requested = Signal(object)  # "New variant…" (the window opens the variant editor)
    pool_chat_requested = Signal(object)  # "Chat with the pool": the Pool the shown model is part of

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("detailPane")
        self.setWidgetResizable(True)
        self.setFrameShape(QFrame.Shape.NoFrame)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.model: UnifiedModel | None = None
        self.chat_model_id: str | None = None
        self.pools_by_member: dict[str, Pool] = {}  # member model id -> its pool (set by the window)
        self.pools_by_id: dict[str, Pool] = {}  # pool id -> the pool (a pool row shown)
        self.pool: Pool | None = None  # the pool of the model shown (or the pool shown)
        body = QWidget()
        body.setObjectName("detailBody")
        self.setWidget(body)
        outer = QVBoxLayout(body)
        outer.setContentsMargins(16, 14, 16, 14)
        outer.setSpacing(8)

        head = QHBoxLayout()
        self.title = QLabel()
        self.title.setObjectName("detailTitle")
        self.title.setWordWrap(True)
        self.title.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        font = self.title.font()
        font.setPointSizeF(font.pointSizeF() * 1.35)
        font.setBold(True)
        self.title.setFont(font)
        self.badge = QLabel()
        self.badge.setObjectName("detailBadge")
        head.addWidget(self.title, 1)
        head.addWidget(self.badge, 0, Qt.AlignmentFlag.AlignTop)
        outer.addLayout(head)

        self.model_id = QLabel()
        self.model_id.setObjectName("detailId")
        self.model_id.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.model_id.setStyleSheet("font-family: monospace; color: palette(placeholder-text);")
        self.model_id.setWordWrap(True)
        outer.addWidget(self.model_id)

        buttons = QHBoxLayout()
        self.chat_button = QPushButton(icons.icon("chat"), "Chat")
        self.chat_button.setObjectName("detailChat")
        self.chat_button.setToolTip("Chat with this model (Enter on the tree)")
        self.chat_button.setDefault(True)
        # Icon only (the pane must fit a 1024-pixel window); the tooltip and accessible name say it.
        self.copy_button = QPushButton(icons.icon("copy"), "")
        self.copy_button.setObjectName("detailCopy")
        self.copy_button.setToolTip("Copy id: the model id to the clipboard")
        self.copy_button.setAccessibleName("Copy id")
        self.delete_button = QPushButton(icons.icon("delete"), "Delete…")
        self.delete_button.setObjectName("detailDelete")
        self.variant_button = QPushButton("New variant…")
        self.variant_button.setObjectName("detailVariant")
        self.variant_button.setToolTip(
            "An experimental model: this one with your system prompt and parameters"
        )
        for b in (self.chat_button, self.copy_button, self.delete_button):
            buttons.addWidget(b)
        buttons.addStretch(1)
        outer.addLayout(buttons)
        # A row of its own: beside the others it made the pane too wide for a 1024-pixel window.
        more = QHBoxLayout()
        more.addWidget(self.variant_button)
        self.pool_button = QPushButton(icons.icon("chat"), "Chat with the pool")
        self.pool_button.setObjectName("detailPoolChat")
        self.pool_button.setToolTip("Chat with this model on the least busy host of its pool")
        more.addWidget(self.pool_button)
        more.addStretch(1)
        outer.addLayout(more)

        self.status_note = QLabel()
        self.status_note.setObjectName("detailStatusNote")
        self.status_note.setWordWrap(True)
        self.status_note.setStyleSheet(
            "QLabel { background: rgba(245, 158, 11, 0.16); border: 1px solid rgba(245, 158, 11, 0.6);"
            " border-radius: 6px; padding: 6px; }"
        )
        outer.addWidget(self.status_note)
        self.chat_note = QLabel()
        self.chat_note.setObjectName("detailChatNote")
        self.chat_note.setWordWrap(True)
        self.chat_note.setStyleSheet("color: palette(placeholder-text);")
        self.chat_note.hide()
        outer.addWidget(self.chat_note)

        line = QFrame()
        line.setFrameShape(QFrame.Shape.HLine)
        line.setFrameShadow(QFrame.Shadow.Sunken)
        outer.addWidget(line)

        self.form = QFormLayout()
        self.form.setLabelAlignment(Qt.AlignmentFlag.AlignRight)
        self.form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        self.form.setHorizontalSpacing(12)
        self.form.setVerticalSpacing(5)
        self.fields: dict[str, QLabel] = {}
        for key, label in _FACTS:
            value = QLabel()
            value.setObjectName(f"fact-{key}")
            value.setWordWrap(True)
            value.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
            value.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Preferred)
            name = QLabel(label)
            name.setStyleSheet("color: palette(placeholder-text);")
            self.form.addRow(name, value)
            self.fields[key] = value
        outer.addLayout(self.form)

        self.description = QLabel()
        self.description.setObjectName("detailDescription")
        self.description.setWordWrap(True)
        self.description.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        outer.addWidget(self.description)
        outer.addStretch(1)

        self.chat_button.clicked.connect(lambda: self.model and self.chat_requested.emit(self.model))
        self.copy_button.clicked.connect(lambda: self.model and self.copy_requested.emit(self.model))
        self.delete_button.clicked.connect(lambda: self.model and self.delete_requested.emit(self.model))
        self.variant_button.clicked.connect(lambda: self.model and self.variant_requested.emit(self.model))
        self.pool_button.clicked.connect(lambda: self.pool and self.pool_chat_requested.emit(self.pool))
        self.show_nothing()

    def minimumSizeHint(self) -> QSize:
        """As narrow as its content allows and no narrower: the splitter then never squeezes the pane
        below its buttons and badge (they were clipped in a 1024-pixel window)."""
        body = self.widget()
        width = body.minimumSizeHint().width() if body is not None else 240
        return QSize(max(240, width + self.verticalScrollBar().sizeHint().width()), 120)

    # ------------------------------------------------------------------ states
    def set_pools(self, pools: dict[str, Pool]) -> None:
        """The pools now (computed by the window after a sync or reload); the shown model's Pool fact
        follows."""
        self.pools_by_member = {m.model_id: p for p in pools.values() for m in p.members}
        self.pools_by_id = dict(pools)
        if self.model is not None and self._pool_of(self.model.id) != self.pool:
            self.show_model(self.model)  # only when its pool changed: a relayout of the pane is not free

    def _pool_of(self, model_id: str) -> Pool | None:
        return self.pools_by_member.get(model_id) or self.pools_by_id.get(model_id)

    def set_chat_model(self, model_id: str | None) -> None:
        """Which model the chat panel talks to, so the pane can say when it shows another one."""
        self.chat_model_id = model_id
        self._update_chat_note()

    def _update_chat_note(self) -> None:
        model, chatting = self.model, self.chat_model_id
        if model is None or chatting is None:
            self.chat_note.hide()
            self.chat_button.setText("Chat")
            return
        if model.id == chatting:
            self.chat_note.setText("The chat on the right is with this model.")
            self.chat_button.setText("Chat")
        elif self.pool is not None and self.pool.id == chatting:
            self.chat_note.setText(
                f"The chat on the right is with this model's pool ({chatting}): each reply comes from "
                "the least busy of its hosts. Chat talks to this host only."
            )
            self.chat_button.setText("Chat with this host")
        else:
            self.chat_note.setText(
                f"The chat on the right is with {chatting}. Chat switches it to this model; that "
                "conversation is kept under Conversations."
            )
            self.chat_button.setText("Chat with this")
        self.chat_note.show()

    def _set_rows_visible(self, visible: bool) -> None:
        for key, _ in _FACTS:
            self.form.setRowVisible(self.fields[key], visible)

    def show_nothing(self, text: str = "") -> None:
        self.model = None
        self.title.setText("No model selected")
        self.badge.clear()
        self.model_id.setText(
            text
            or "Pick a model in the tree on the left to see everything about it, chat with it or delete it."
        )
        self.status_note.hide()
        self._set_rows_visible(False)
        self.description.clear()
        self.pool = None
        for b in (
            self.chat_button,
            self.copy_button,
            self.delete_button,
            self.variant_button,
            self.pool_button,
        ):
            b.setVisible(False)
        self._update_chat_note()

    def show_category(self, category: Category, shown: int, total: int) -> None:
        self.model = None
        self.title.setText(CATEGORY_LABELS[category])
        self.badge.setPixmap(icons.category_icon(category).pixmap(QSize(24, 24)))
        count = (
            f"{shown} of {total} models" if shown != total else f"{total} model{'s' if total != 1 else ''}"
        )
        self.model_id.setText(f"Category “{category.value}” · {count}")
        self.status_note.hide()
        self._set_rows_visible(False)
        help_text = CATEGORY_HELP[category]
        self.description.setText(
            f"{help_text}\n\n{CATEGORY_EMPTY_HINTS[category]}." if total == 0 else help_text
        )
        self.pool = None
        for b in (
            self.chat_button,
            self.copy_button,
            self.delete_button,
            self.variant_button,
            self.pool_button,
        ):
            b.setVisible(False)
        self._update_chat_note()

    def show_model(self, model: UnifiedModel) -> None:
        from desktop_app.services.serving import chat_refusal

        self.model = model
        self.title.setText(model.name)
        self.badge.setPixmap(badge_pixmap(badge_of(model)))
        self.badge.setToolTip(f"Serving: {model.serving_type.value}; type: {model.model_type.value}")
        self.model_id.setText(model.id)
        refusal = chat_refusal(model)
        notes = [status_explanation(model)] if model.status is not ModelStatus.AVAILABLE else []
        notes += [refusal] if refusal else []
        self.status_note.setText("\n".join(notes))
        self.status_note.setVisible(bool(notes))
        endpoint = model.local_endpoint or model.remote_endpoint
        self.pool = pool = self._pool_of(model.id)
        is_pool = pool is not None and pool.id == model.id  # the pool's own row, not a member's
        facts: dict[str, str] = {
            "source": (
                f"{len(pool.members)} hosts — {_kind_label(model.source)}s"
                if is_pool and pool is not None
                else f"{model.provider} — {_kind_label(model.source)}" + (f"\n{endpoint}" if endpoint else "")
            ),
            "pool": pool_fact(pool) if pool is not None else "—",
            "status": model.status.value,
            "cloud": cloud_note(model) or "—",
            "categories": ", ".join(CATEGORY_LABELS[c] for c in (model.categories or [model.category])),
            "capabilities": ", ".join(model.capabilities) or "—",
            "parameter_size": model.parameter_size or "—",
            "quantization": model.quantization or "—",
            "context_length": f"{model.context_length:,} tokens" if model.context_length else "—",
            "size": format_bytes(model.size_bytes) if model.size_bytes else "—",
            "rate_limit_tier": model.rate_limit_tier or "—",
            "family": model.family or "—",
            "publisher": model.publisher or "—",
            "parent": model.parent_id or "—",
            "updated": model.updated_at.astimezone().strftime("%Y-%m-%d %H:%M"),
        }
        self._set_rows_visible(True)
        for key, value in facts.items():
            self.fields[key].setText(value)
        # Facts the source does not know stay out of the way.
        for key, value in facts.items():
            if key not in _ALWAYS_SHOWN:
                self.form.setRowVisible(self.fields[key], value != "—")
        self.description.setText(model.description)
        self.chat_button.setVisible(True)
        self.copy_button.setVisible(True)
        # A pool's own row: Chat is the chat on the pool; no variant of it, nothing to delete.
        self.variant_button.setVisible(refusal is None and not is_pool)
        self.pool_button.setVisible(pool is not None and not is_pool)
        self.pool_button.setEnabled(pool is not None and refusal is None)
        self.delete_button.setVisible(can_delete(model))
        self.chat_button.setEnabled(model.usable and refusal is None)
        if refusal:
            self.chat_button.setToolTip(refusal)
        else:
            self.chat_button.setToolTip(
                "Chat with this model (Enter on the tree)" if model.usable else status_explanation(model)
            )
        self.delete_button.setToolTip(f"Delete {model.native_name} from {model.provider} (asks first)")
        if is_pool:
            self.chat_button.setToolTip("Chat on the pool: each reply from the least busy of its hosts")
        self._update_chat_note()
