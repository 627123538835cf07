"""Filtering the category tree: search text, capability chips and the All / Local / Remote switch.

Without a filter every category is shown, empty ones too (greyed, "Experimental (0)"): the tree is
also the map of what ModelDesk can hold. While filtering, a category is shown while any of its models
match, and its label says how many do ("Text (3 of 12)").
That is recursive filtering, done by hand: Qt's ``recursiveFilteringEnabled`` asks the source model for
``index()`` and ``rowCount()`` of every rejected row (three Python calls per row instead of one), which
measured 70-100 ms per keystroke over 10,000 models against 25 ms without it. Here a category row is
accepted when the proxy's own per-category counts say it has a match.

One keystroke must cost well under a frame even with 10,000 models, so a change of filter does not
re-filter every row: the proxy evaluates the new filter over its precomputed ``ModelRow``s in plain
Python (about a microsecond per model, less when the filter only narrows; once per model, not per row,
since a model's rows in its several categories share one ``ModelRow``), compares it with the previous
result, and asks Qt to re-check only the rows whose answer changed (through the source model's
``filter_inputs_changed``, a ``dataChanged`` on the filter role). When too many rows changed to be
worth it, it falls back to Qt's full row re-filter.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from PySide6.QtCore import QModelIndex, QPersistentModelIndex, QSortFilterProxyModel

from desktop_app.core.enums import Category
from desktop_app.core.model_query import CAPABILITY_CHIPS, ModelQuery, Serving
from desktop_app.gui.labels import CATEGORY_LABELS, CATEGORY_ORDER
from desktop_app.gui.qt_model_tree import Col, ItemRole, ModelRow, QtModelTreeModel

__all__ = ["CHIPS", "QtModelFilterProxy", "Serving"]

_Index = QModelIndex | QPersistentModelIndex

# Above this many changed runs of rows, one full re-filter is cheaper than many small ones.
_MAX_RUNS = 40

CHIPS = CAPABILITY_CHIPS
_Filter = ModelQuery  # the filter itself is Qt-free (core.model_query), shared with the Gradio app


class QtModelFilterProxy(QSortFilterProxyModel):
    def __init__(self, parent: Any = None) -> None:
        super().__init__(parent)
        self.setDynamicSortFilter(True)
        self.setFilterRole(ItemRole.FILTER)
        self._filter = _Filter()
        self._accepts = self._filter.predicate()
        self._tree: QtModelTreeModel | None = None
        # Per category: which rows match, valid for the source model's ``version`` it was computed at;
        # and the matching models (each once, whatever its number of rows; None: all of them).
        self._masks: list[list[bool]] | None = None
        self._masks_version = -1
        self._counts: list[int] = []
        self._matched: set[ModelRow] | None = None
        self._changing = False  # our own re-filter is being applied, row run by row run
        self.full_refilters = 0  # how often the slow path ran (tests and the bench read it)

    # ------------------------------------------------------------------ our API
    def setSourceModel(self, model: Any) -> None:
        if not isinstance(model, QtModelTreeModel):
            raise TypeError("QtModelFilterProxy filters a QtModelTreeModel")
        if self._tree is not None:
            self._tree.set_category_labeler(None)
        self._tree = model
        self._masks = None
        super().setSourceModel(model)
        model.set_category_labeler(self.category_label)

    def category_label(self, category_row: int) -> str:
        """ "Text (3 of 12)" while filtering, "Text (12)" otherwise."""
        assert self._tree is not None
        cat = CATEGORY_ORDER[category_row]
        shown = self._ensure_counts()[category_row]
        total = len(self._tree.category_rows(category_row))
        if shown != total:
            return f"{CATEGORY_LABELS[cat]} ({shown} of {total})"
        return f"{CATEGORY_LABELS[cat]} ({total})"

    @property
    def text(self) -> str:
        return " ".join(self._filter.words)

    @property
    def capabilities(self) -> frozenset[str]:
        return self._filter.caps

    @property
    def serving(self) -> Serving:
        return self._filter.serving

    def is_filtering(self) -> bool:
        f = self._filter
        return bool(f.words or f.caps or f.serving is not Serving.ALL)

    def set_text(self, text: str) -> None:
        words = tuple(text.lower().split())
        if words != self._filter.words:
            self._change(_Filter(words, self._filter.caps, self._filter.serving))

    def set_capabilities(self, capabilities: Iterable[str]) -> None:
        caps = frozenset(c.lower() for c in capabilities)
        if caps != self._filter.caps:
            self._change(_Filter(self._filter.words, caps, self._filter.serving))

    def set_serving(self, serving: Serving | str) -> None:
        value = Serving(serving)
        if value is not self._filter.serving:
            self._change(_Filter(self._filter.words, self._filter.caps, value))

    def accepts(self, row: ModelRow) -> bool:
        return self._accepts(row)

    def match_count(self, category: Category | None = None) -> int:
        """How many models match, in one category or in all (each model once, without building Qt
        mappings)."""
        counts = self._ensure_counts()
        if category is not None:
            return counts[CATEGORY_ORDER.index(category)]
        if self._matched is None:
            return self._tree.model_count() if self._tree is not None else 0
        return len(self._matched)

    def visible_row_count(self) -> int:
        """Model rows the view can show (asks Qt, so it also checks that Qt agrees with our counts).
        A model in three categories has three rows."""
        return sum(self.rowCount(self.index(r, 0)) for r in range(self.rowCount()))

    def visible_model_ids(self) -> set[str]:
        """The models the view can show, each once (asks Qt)."""
        out: set[str] = set()
        for r in range(self.rowCount()):
            parent = self.index(r, 0)
            out.update(self.index(c, 0, parent).data(ItemRole.MODEL_ID) for c in range(self.rowCount(parent)))
        return out

    # ------------------------------------------------------------------ filtering
    def _compute_matched(
        self, f: _Filter, accepts: Callable[[ModelRow], bool], among: Iterable[ModelRow] | None = None
    ) -> set[ModelRow] | None:
        """The models that match (None: all of them, when nothing filters); once per model."""
        if not (f.words or f.caps or f.serving is not Serving.ALL):
            return None
        assert self._tree is not None
        rows = self._tree.unique_rows() if among is None else among
        return {r for r in rows if accepts(r)}

    def _masks_for(self, matched: set[ModelRow] | None) -> list[list[bool]]:
        assert self._tree is not None
        tree = self._tree
        if matched is None:
            return [[True] * len(tree.category_rows(ci)) for ci in range(len(CATEGORY_ORDER))]
        return [[r in matched for r in tree.category_rows(ci)] for ci in range(len(CATEGORY_ORDER))]

    def _current_masks(self) -> list[list[bool]]:
        assert self._tree is not None
        if self._masks is None or self._masks_version != self._tree.version:
            self._matched = self._compute_matched(self._filter, self._accepts)
            self._masks = self._masks_for(self._matched)
            self._masks_version = self._tree.version
            self._counts = [sum(m) for m in self._masks]
        return self._masks

    def _ensure_counts(self) -> list[int]:
        if self._tree is None:
            return [0] * len(CATEGORY_ORDER)
        self._current_masks()
        return self._counts

    def _change(self, new: _Filter) -> None:
        tree = self._tree
        if tree is None:
            self._filter, self._accepts = new, new.predicate()
            return
        old_masks = self._current_masks()
        old_matched = self._matched
        accepts = new.predicate()
        if old_matched is not None and new.narrows(self._filter):
            matched = self._compute_matched(new, accepts, old_matched)
        else:
            matched = self._compute_matched(new, accepts)
        new_masks = self._masks_for(matched)
        runs: list[tuple[int, int, int]] = []
        for ci, (old, cur) in enumerate(zip(old_masks, new_masks, strict=True)):
            start = -1
            for i, (a, b) in enumerate(zip(old, cur, strict=True)):
                if a != b:
                    if start < 0:
                        start = i
                elif start >= 0:
                    runs.append((ci, start, i - 1))
                    start = -1
            if start >= 0:
                runs.append((ci, start, len(cur) - 1))
            if len(runs) > _MAX_RUNS:
                break
        self._filter, self._accepts = new, accepts
        self._masks = new_masks
        self._matched = matched
        self._masks_version = tree.version
        self._counts = [sum(m) for m in new_masks]
        if len(runs) > _MAX_RUNS:
            self.full_refilters += 1
            self._full_refilter()
            return
        self._changing = True
        try:
            for ci, first, last in runs:
                tree.filter_inputs_changed(ci, first, last)
        finally:
            self._changing = False
        # The categories: shown or hidden by their counts, and their labels show the counts.
        tree.filter_inputs_changed(-1, 0, len(CATEGORY_ORDER) - 1)

    def _full_refilter(self) -> None:
        # Not a row re-filter: Qt would then remove each hidden run on its own, rebuilding its
        # mapping every time (minutes for thousands of scattered rows). Dropping the mappings and
        # announcing one layout change costs one pass.
        self.invalidate()

    # ------------------------------------------------------------------ Qt overrides
    def filterAcceptsRow(self, source_row: int, source_parent: _Index) -> bool:
        if not source_parent.isValid():
            # Every category while nothing filters (an empty one says what it is for); while
            # filtering, only those with a match.
            return self._ensure_counts()[source_row] > 0 or not self.is_filtering()
        tree = self._tree
        assert tree is not None
        if self._masks is not None and self._masks_version == tree.version:
            return self._masks[source_parent.row()][source_row]
        # The source is changing (rows being inserted): judge the row itself, do not rebuild the masks.
        return self._accepts(tree.model_at(source_parent.row(), source_row))

    def hasChildren(self, parent: _Index = QModelIndex()) -> bool:  # noqa: B008
        # Answer for categories from our counts: asking Qt would build (filter) the category's whole
        # mapping just to draw the expand arrow of a collapsed category.
        if not parent.isValid():
            return super().hasChildren(parent)
        if parent.parent().isValid():
            return False  # a model row: the tree has two levels (saves two calls into Python per row)
        # While our own re-filter is half applied, Qt's answer is the consistent one.
        if not self._changing and parent.column() == Col.NAME:
            return self._ensure_counts()[self.mapToSource(parent).row()] > 0
        return super().hasChildren(parent)
