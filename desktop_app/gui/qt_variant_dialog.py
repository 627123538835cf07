"""The variant editor: a new variant of a model (or a new version of a variant): name, system prompt
(monospace, with the base's own prompt beside it for reference), temperature / top_p / max tokens /
seed / stop, a "Try it" chat against the unsaved variant, "Grid…" (every combination of a few values,
counted as you type) and "Materialize in Ollama" for a local base, with progress.
"""

from __future__ import annotations

import asyncio
import sys
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QFontDatabase
from PySide6.QtWidgets import (
    QCheckBox,
    QDialog,
    QDialogButtonBox,
    QDoubleSpinBox,
    QFormLayout,
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QProgressBar,
    QPushButton,
    QSpinBox,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from desktop_app.core.chat import ChatMessage
from desktop_app.core.errors import ModelDeskError
from desktop_app.core.models import ModelType, UnifiedModel
from desktop_app.core.variants import SystemOption, VariantSpec
from desktop_app.services.context import AppContext
from desktop_app.services.variant_draft import (
    GRID_FIELDS,
    VariantDraft,
    base_prompt,
    can_materialize,
    plan_grid_text,
)

__all__ = ["QtVariantDialog"]

_NO_SEED = -1


class QtVariantDialog(QDialog):
    """``saved`` carries the ids of the variants stored (several for a grid)."""

    saved = Signal(list)
    status_message = Signal(str)

    def __init__(
        self, ctx: AppContext, model: UnifiedModel, parent: QWidget | None = None, *, edit: bool = False
    ) -> None:
        super().__init__(parent)
        self.setObjectName("variantDialog")
        self.ctx = ctx
        editing = edit and model.model_type is not ModelType.BASE
        self.draft = VariantDraft.of_variant(ctx, model) if editing else VariantDraft(base=model)
        base = self.draft.base
        self.setWindowTitle(f"Edit variant {model.name}" if editing else f"New variant of {model.name}")
        self.resize(900, 640)
        self._task: asyncio.Task[Any] | None = None
        self._try_task: asyncio.Task[Any] | None = None
        self.materialized: list[str] = []

        outer = QVBoxLayout(self)
        head = QLabel(
            f"Base: <b>{base.id}</b>"
            + (f" &nbsp;·&nbsp; editing <b>{model.id}</b> (saving makes a new version)" if editing else "")
        )
        head.setObjectName("variantBase")
        outer.addWidget(head)
        split = QSplitter(Qt.Orientation.Horizontal)
        outer.addWidget(split, 1)

        # ---- left: what the variant is
        left = QWidget()
        form = QFormLayout(left)
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        self.name_edit = QLineEdit(self.draft.name)
        self.name_edit.setObjectName("variantName")
        self.name_edit.setPlaceholderText("generated from the base and the parameters")
        form.addRow("Name", self.name_edit)
        mono = QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont)
        self.system_edit = QPlainTextEdit(self.draft.system_prompt)
        self.system_edit.setObjectName("variantSystem")
        self.system_edit.setFont(mono)
        self.system_edit.setPlaceholderText("The system prompt this variant sends (empty: the base's own)")
        form.addRow("System prompt", self.system_edit)
        own = base_prompt(ctx, base)
        self.base_prompt = QPlainTextEdit(own or "The base applies no system prompt of its own.")
        self.base_prompt.setObjectName("variantBasePrompt")
        self.base_prompt.setReadOnly(True)
        self.base_prompt.setFont(mono)
        self.base_prompt.setMaximumHeight(80)
        self.base_prompt.setStyleSheet("color: palette(placeholder-text);")
        form.addRow("Base's prompt", self.base_prompt)

        params = QGridLayout()
        self.temperature = self._double(0.0, 2.0, 0.1, self.draft.temperature, "temperature")
        self.top_p = self._double(0.0, 1.0, 0.05, self.draft.top_p, "topP")
        self.max_tokens = QSpinBox()
        self.max_tokens.setObjectName("maxTokens")
        self.max_tokens.setRange(0, 1_000_000)
        self.max_tokens.setSpecialValueText("default")
        self.max_tokens.setValue(self.draft.max_tokens or 0)
        self.seed = QSpinBox()
        self.seed.setObjectName("seed")
        self.seed.setRange(_NO_SEED, 2**31 - 1)
        self.seed.setSpecialValueText("random")
        self.seed.setValue(self.draft.seed if self.draft.seed is not None else _NO_SEED)
        self.stop_edit = QLineEdit(", ".join(self.draft.stop))
        self.stop_edit.setObjectName("stop")
        self.stop_edit.setPlaceholderText("comma-separated, e.g. ###, END")
        for i, (label, widget) in enumerate(
            (
                ("Temperature", self.temperature),
                ("top_p", self.top_p),
                ("Max tokens", self.max_tokens),
                ("Seed", self.seed),
            )
        ):
            params.addWidget(QLabel(label), i // 2, (i % 2) * 2)
            params.addWidget(widget, i // 2, (i % 2) * 2 + 1)
        params.addWidget(QLabel("Stop"), 2, 0)
        params.addWidget(self.stop_edit, 2, 1, 1, 3)
        form.addRow("Parameters", self._wrap(params))

        self.grid_toggle = QPushButton("Grid…")
        self.grid_toggle.setObjectName("gridToggle")
        self.grid_toggle.setCheckable(True)
        self.grid_toggle.setToolTip("Make every combination of a few values (one variant each)")
        form.addRow("", self.grid_toggle)
        self.grid_box = QGroupBox("Grid: values separated by commas")
        self.grid_box.setObjectName("gridBox")
        grid_form = QFormLayout(self.grid_box)
        self.grid_edits: dict[str, QLineEdit] = {}
        for name in GRID_FIELDS:
            line = QLineEdit()
            line.setObjectName(f"grid-{name}")
            line.setPlaceholderText(
                {"temperature": "0.2, 0.7", "top_p": "0.9, 1", "max_tokens": "256, 1024", "seed": "1, 2, 3"}[
                    name
                ]
            )
            line.textChanged.connect(self._update_grid)
            grid_form.addRow(name, line)
            self.grid_edits[name] = line
        self.grid_count = QLabel()
        self.grid_count.setObjectName("gridCount")
        self.grid_count.setWordWrap(True)
        grid_form.addRow(self.grid_count)
        self.grid_box.hide()
        self.grid_toggle.toggled.connect(self._on_grid_toggled)
        form.addRow(self.grid_box)

        self.materialize_box = QCheckBox(
            "Also create it in Ollama (materialize: any Ollama client can use it)"
        )
        self.materialize_box.setObjectName("materialize")
        self.materialize_box.setEnabled(can_materialize(ctx, base))
        if not self.materialize_box.isEnabled():
            self.materialize_box.setToolTip("Only variants of local Ollama models can be materialized.")
        form.addRow("", self.materialize_box)
        self.progress = QProgressBar()
        self.progress.setObjectName("materializeProgress")
        self.progress.setTextVisible(True)
        self.progress.hide()
        form.addRow("", self.progress)
        split.addWidget(left)

        # ---- right: try it
        right = QGroupBox("Try it (nothing is saved)")
        right.setObjectName("tryBox")
        rl = QVBoxLayout(right)
        self.try_input = QLineEdit()
        self.try_input.setObjectName("tryInput")
        self.try_input.setPlaceholderText("A message to send to the variant as it is now…")
        self.try_input.returnPressed.connect(self.try_it)
        row = QHBoxLayout()
        row.addWidget(self.try_input, 1)
        self.try_button = QPushButton("Send")
        self.try_button.setObjectName("trySend")
        self.try_button.clicked.connect(self.try_it)
        row.addWidget(self.try_button)
        rl.addLayout(row)
        self.try_output = QPlainTextEdit()
        self.try_output.setObjectName("tryOutput")
        self.try_output.setReadOnly(True)
        self.try_output.setPlaceholderText("The reply streams here.")
        rl.addWidget(self.try_output, 1)
        split.addWidget(right)
        split.setSizes([520, 380])

        self.error = QLabel()
        self.error.setObjectName("variantError")
        self.error.setWordWrap(True)
        self.error.setStyleSheet("color: #dc2626;")
        self.error.hide()
        outer.addWidget(self.error)
        self.buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Save | QDialogButtonBox.StandardButton.Cancel
        )
        self.buttons.accepted.connect(self.save)
        self.buttons.rejected.connect(self.reject)
        outer.addWidget(self.buttons)
        self._update_grid()

    # ------------------------------------------------------------------ widgets
    @staticmethod
    def _wrap(layout: Any) -> QWidget:
        w = QWidget()
        layout.setContentsMargins(0, 0, 0, 0)
        w.setLayout(layout)
        return w

    def _double(self, low: float, high: float, step: float, value: float | None, name: str) -> QDoubleSpinBox:
        box = QDoubleSpinBox()
        box.setObjectName(name)
        box.setRange(low - step, high)  # one step below the range means "the base's default"
        box.setSingleStep(step)
        box.setDecimals(2)
        box.setSpecialValueText("default")
        box.setValue(value if value is not None else low - step)
        return box

    def _value(self, box: QDoubleSpinBox) -> float | None:
        return None if box.value() <= box.minimum() + 1e-9 else round(box.value(), 4)

    # ------------------------------------------------------------------ the draft
    def current_draft(self) -> VariantDraft:
        d = self.draft
        d.name = self.name_edit.text().strip()
        d.system_prompt = self.system_edit.toPlainText()
        d.temperature = self._value(self.temperature)
        d.top_p = self._value(self.top_p)
        d.max_tokens = self.max_tokens.value() or None
        d.seed = None if self.seed.value() == _NO_SEED else self.seed.value()
        d.stop = [s.strip() for s in self.stop_edit.text().split(",") if s.strip()]
        return d

    def _on_grid_toggled(self, on: bool) -> None:
        self.grid_box.setVisible(on)
        self.name_edit.setPlaceholderText(
            "a prefix for the generated names" if on else "generated from the base and the parameters"
        )
        self._update_grid()

    def _update_grid(self) -> None:
        plan = plan_grid_text({k: e.text() for k, e in self.grid_edits.items()})
        if plan.ok:
            self.grid_count.setText(f"Makes {plan.count} variant{'s' if plan.count != 1 else ''}.")
            self.grid_count.setStyleSheet("")
        else:
            self.grid_count.setText(plan.error)
            self.grid_count.setStyleSheet("color: #dc2626;" if plan.count or "not" in plan.error else "")
        if self.grid_toggle.isChecked():
            self.buttons.button(QDialogButtonBox.StandardButton.Save).setText(
                f"Save {plan.count} variants" if plan.ok else "Save"
            )
        else:
            self.buttons.button(QDialogButtonBox.StandardButton.Save).setText("Save")

    def _fail(self, exc: ModelDeskError) -> None:
        self.error.setText(str(exc))
        self.error.show()

    # ------------------------------------------------------------------ try it
    def try_it(self) -> asyncio.Task[Any] | None:
        text = self.try_input.text().strip()
        if not text or (self._try_task is not None and not self._try_task.done()):
            return None
        self.error.hide()
        try:
            preview = self.current_draft().preview(self.ctx)
        except ModelDeskError as exc:
            self._fail(exc)
            return None
        self.try_output.setPlainText("")
        self.try_button.setEnabled(False)
        self._try_task = asyncio.ensure_future(self._stream(preview, text))
        return self._try_task

    async def _stream(self, preview: UnifiedModel, text: str) -> None:
        from desktop_app.services.serving import stream_chat

        try:
            async for chunk in stream_chat(self.ctx, preview, [ChatMessage(role="user", content=text)]):
                if chunk.content:
                    self.try_output.moveCursor(self.try_output.textCursor().MoveOperation.End)
                    self.try_output.insertPlainText(chunk.content)
        except ModelDeskError as exc:
            self._fail(exc)
        finally:
            self.try_button.setEnabled(True)

    # ------------------------------------------------------------------ save
    def save(self) -> asyncio.Task[Any] | None:
        if self._task is not None and not self._task.done():
            return None
        self.error.hide()
        self._task = asyncio.ensure_future(self._save())

        def done(t: asyncio.Task[Any]) -> None:
            if not t.cancelled() and (exc := t.exception()) is not None:
                sys.excepthook(type(exc), exc, exc.__traceback__)

        self._task.add_done_callback(done)
        return self._task

    async def _save(self) -> None:
        from desktop_app.services.variants import create_grid, create_variant, materialize

        self.buttons.setEnabled(False)
        try:
            draft = self.current_draft()
            if self.grid_toggle.isChecked():
                plan = plan_grid_text({k: e.text() for k, e in self.grid_edits.items()})
                if not plan.ok:
                    self.error.setText(plan.error)
                    self.error.show()
                    return
                system = draft.system_prompt.strip()
                variants = create_grid(
                    self.ctx,
                    draft.base.id,
                    plan.axes,
                    [SystemOption("custom", system)] if system else [],
                    fixed=draft.options(),
                    prefix=draft.name or None,
                )
            else:
                spec: VariantSpec = draft.spec()
                replace = draft.editing is not None and spec.name in ("", draft.editing.name)
                if replace and draft.editing is not None:
                    spec = spec.model_copy(update={"name": draft.editing.name})
                variants = [create_variant(self.ctx, draft.base.id, spec, replace=replace)]
            if self.materialize_box.isChecked() and self.materialize_box.isEnabled():
                self.progress.show()
                for i, v in enumerate(variants):
                    self.progress.setFormat(f"{v.name}: %p%  ({i + 1}/{len(variants)})")
                    async for step in materialize(self.ctx, v.id):
                        fraction = step.fraction
                        if fraction is not None:
                            self.progress.setRange(0, 100)
                            self.progress.setValue(int(100 * fraction))
                        else:  # Ollama's create says what it does, without sizes: a busy bar
                            self.progress.setRange(0, 0)
                            self.progress.setFormat(f"{v.name}: {step.status}")
                    self.progress.setRange(0, 100)
                    self.progress.setValue(100)
                self.materialized = [v.name for v in variants]
        except ModelDeskError as exc:
            self._fail(exc)
            return
        finally:
            self.buttons.setEnabled(True)
        ids = [v.id for v in variants]
        names = ", ".join(v.name for v in variants[:3]) + (" …" if len(variants) > 3 else "")
        self.status_message.emit(f"Saved {len(ids)} variant{'s' if len(ids) != 1 else ''}: {names}")
        self.saved.emit(ids)
        self.accept()

    def reject(self) -> None:
        for task in (self._try_task, self._task):
            if task is not None and not task.done():
                task.cancel()
        super().reject()
