"""Filtering the category tree: search text, capability chips and the All / Local / Remote switch.

Without a filter every category is shown, empty ones too (greyed, "Experimental (0)"): the tree is
also the map of what ModelDesk can hold. While filtering, a category is shown while any of its models
match, and its label says how many do ("Text (3 of 12)").

One keystroke must cost well under a frame with 100,000 models, so this is not a
``QSortFilterProxyModel``: that one asks ``filterAcceptsRow`` (a call into Python) per row it
re-checks, tens of thousands per keystroke once big categories have been shown. It is a thin item model
of its own over the tree model's rows:

- a keystroke evaluates the filter once per model (not per row: a model's rows in its several
  categories share one ``ModelRow``) with ``ModelQuery.select_lists``, chains of C-level iterators over
  the models' haystacks, and only over the previous matches when the new filter narrows the old;
- what is shown is kept compact: the set of matching rows, the count per category (from one
  ``Counter`` over the matches' category tuples, shared per kind of model), and per category the list
  of its source row numbers shown, made only when Qt first asks for that category's rows (an expanded
  category, a selected model), so collapsed categories cost nothing;
- Qt is told with one ``layoutAboutToBeChanged``/``layoutChanged`` pair per keystroke, with the
  persistent indexes (selection, current row, expanded and spanned categories) moved to their new rows.

A change of the tree model (a sync) is followed the same way: the proxy's persistent indexes are held
as persistent indexes of the tree while it changes, and moved back after; only the rows the change
touched are evaluated again.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Iterable
from itertools import compress, islice
from operator import attrgetter
from typing import Any

from PySide6.QtCore import QAbstractItemModel, QModelIndex, QPersistentModelIndex, Qt, QTimer

from desktop_app.core.enums import Category
from desktop_app.core.model_query import CAPABILITY_CHIPS, ModelQuery, Serving
from desktop_app.gui.labels import CATEGORY_LABELS, CATEGORY_ORDER
from desktop_app.gui.qt_model_tree import ItemRole, ModelRow, QtModelTreeModel

__all__ = ["CHIPS", "QtModelFilterProxy", "Serving"]

_Index = QModelIndex | QPersistentModelIndex

CHIPS = CAPABILITY_CHIPS
_Filter = ModelQuery  # the filter itself is Qt-free (core.model_query), shared with the Gradio app
_NCAT = len(CATEGORY_ORDER)
_NCOLS = 5
# Rows of one category shown at first; more as the view scrolls to their end (``show_more``). Qt's
# tree lays out every row of an expanded category on each change, two calls into Python per row: a
# page bounds what a keystroke costs with a category of 100,000 models open.
ROWS_PER_PAGE = 1_000
_WARM_AFTER_CHANGES_MS = 500
_KIND, _PROVIDER = attrgetter("kind"), attrgetter("provider")
_CAT_ROW = {cat: i for i, cat in enumerate(CATEGORY_ORDER)}


class _AllRows:
    """Every model once, as the filter reads them, for one version of the tree: ordered by kind
    (``ModelFacts.kind``, shared by every model of a kind), so that the matches of a kind are one run
    of any selection from these lists and counting them per category is a bisection per kind. A
    haystack ends with its kind's text: ``hays`` hold the rest, and a keystroke searches the kind's
    part once per kind (a third less text to scan per model)."""

    __slots__ = ("hays", "kids", "kinds", "providers", "rows", "texts", "version")

    def __init__(self, tree: QtModelTreeModel) -> None:
        self.version = tree.version
        rows = tree.unique_rows()
        kinds = list(map(_KIND, rows))
        ids = list(map(id, kinds))
        order = sorted(range(len(rows)), key=ids.__getitem__)
        self.rows: list[ModelRow] = list(map(rows.__getitem__, order))
        self.kids: list[int] = list(map(ids.__getitem__, order))
        self.providers = set(map(_PROVIDER, rows))
        by_id = dict(zip(ids, kinds, strict=True))
        self.kinds: list[tuple[int, list[int]]] = [
            (k, [_CAT_ROW[c] for c in kind.categories]) for k, kind in sorted(by_id.items())
        ]
        hays: list[str] = []
        whole: set[int] = set()  # kinds whose text does not end their rows' haystacks as expected
        for row, k in zip(self.rows, self.kids, strict=True):
            hay, text = row.haystack, by_id[k].text
            if not text:
                hays.append(hay)
            elif hay.endswith(text) and hay[-len(text) - 1 : -len(text)] == " ":
                hays.append(hay[: -len(text) - 1])
            elif hay == text:
                hays.append("")
            else:
                whole.add(k)
                hays.append(hay)
        if whole:
            hays = [
                row.haystack if k in whole else h
                for row, k, h in zip(self.rows, self.kids, hays, strict=True)
            ]
        self.hays = hays
        self.texts = {k: kind.text for k, kind in by_id.items() if kind.text and k not in whole}

    def select(
        self, query: _Filter, rows: list[ModelRow], hays: list[str], kids: list[int]
    ) -> tuple[list[Any], ...]:
        return query.select_lists(rows, hays, kids, providers=self.providers, shared=(0, self.texts))


class _Shown:
    """What a filter shows: the matching models (as lists in ``_AllRows`` order, for the next keystroke
    to narrow), how many rows match per category, and the set of matching rows (made when needed)."""

    __slots__ = ("_set", "counts", "hays", "kids", "rows", "total", "version")

    def __init__(self, everything: _AllRows, rows: list[ModelRow], hays: list[str], kids: list[int]) -> None:
        self.version = everything.version  # -1 once the tree changed: the lists are stale then
        self.rows, self.hays, self.kids = rows, hays, kids
        self.total: int | None = len(rows)
        self._set: set[ModelRow] | None = None
        counts = [0] * _NCAT
        lo = 0
        for kind, cats in everything.kinds:
            hi = bisect_right(kids, kind, lo)
            if hi > lo:
                for ci in cats:
                    counts[ci] += hi - lo
            lo = hi
        self.counts = counts

    @property
    def set(self) -> set[ModelRow]:
        made = self._set
        if made is None:
            made = self._set = set(self.rows)
        return made


class QtModelFilterProxy(QAbstractItemModel):
    def __init__(self, parent: Any = None) -> None:
        super().__init__(parent)
        self._filter = _Filter()
        self._accepts = self._filter.predicate()
        self._tree: QtModelTreeModel | None = None
        self._all: _AllRows | None = None
        self._shown: _Shown | None = None  # None: not filtering, every row shows
        self._vis: list[list[int] | None] = [None] * _NCAT  # shown source rows, made when asked
        self._vis_all = [False] * _NCAT  # ... all of them (else the first page or more)
        self._cats: list[int] = list(range(_NCAT))  # the source category rows shown, in order
        self._cat_pos: list[int] = list(range(_NCAT))  # source category row -> our row (-1: hidden)
        self._limit = [ROWS_PER_PAGE] * _NCAT  # rows shown per category (see ``show_more``)
        self._saved: list[tuple[QModelIndex, QPersistentModelIndex]] | None = None
        self._connections: list[Any] = []
        self._warm_timer = QTimer(self)
        self._warm_timer.setSingleShot(True)
        self._warm_timer.timeout.connect(self._warm)
        self.layout_changes = 0  # how many times Qt was told that the rows changed (tests read it)

    # ------------------------------------------------------------------ our API
    def setSourceModel(self, model: Any) -> None:
        if not isinstance(model, QtModelTreeModel):
            raise TypeError("QtModelFilterProxy filters a QtModelTreeModel")
        self.beginResetModel()
        if self._tree is not None:
            self._tree.set_category_labeler(None)
            for sig, slot in self._connections:
                sig.disconnect(slot)
        self._tree = model
        self._connections = [
            (model.modelAboutToBeReset, self.beginResetModel),
            (model.modelReset, self._source_reset),
            (model.rowsAboutToBeInserted, self._source_about),
            (model.rowsInserted, self._source_inserted),
            (model.rowsAboutToBeRemoved, self._source_about),
            (model.rowsRemoved, self._source_removed),
            (model.layoutAboutToBeChanged, self._source_about),
            (model.layoutChanged, self._source_layout),
            (model.dataChanged, self._source_data),
            (model.headerDataChanged, self.headerDataChanged),
        ]
        for sig, slot in self._connections:
            sig.connect(slot)
        self._recompute()
        self.endResetModel()
        model.set_category_labeler(self.category_label)
        self._warm_later()

    def sourceModel(self) -> QtModelTreeModel | None:
        return self._tree

    def category_label(self, category_row: int) -> str:
        """ "Text (3 of 12)" while filtering, "Text (12)" otherwise."""
        assert self._tree is not None
        cat = CATEGORY_ORDER[category_row]
        total = self._tree.category_count(cat)
        if self._shown is None or self._tree.pending:  # not filtering, or only counts are known yet
            return f"{CATEGORY_LABELS[cat]} ({total})"
        shown = self._shown.counts[category_row]
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
        return self._filter.filtering

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
        """How many models match, in one category or in all (each model once)."""
        tree = self._tree
        if tree is None:
            return 0
        shown = self._shown
        if category is not None:
            return tree.category_count(category) if shown is None else shown.counts[_CAT_ROW[category]]
        if shown is None:
            return tree.model_count()
        if shown.total is None:  # after a sync: rows that left the tree may still be in the set
            shown.total = sum(map(shown.set.__contains__, tree.unique_rows()))
        return shown.total

    def visible_row_count(self) -> int:
        """Model rows the view can show, scrolled to the end (asks the Qt interface). A model in three
        categories has three rows."""
        self.show_all()
        return sum(self.rowCount(self.index(r, 0)) for r in range(self.rowCount()))

    def visible_model_ids(self) -> set[str]:
        """The models the view can show, scrolled to the end, each once (asks the Qt interface)."""
        self.show_all()
        out: set[str] = set()
        for r in range(self.rowCount()):
            parent = self.index(r, 0)
            out.update(self.index(c, 0, parent).data(ItemRole.MODEL_ID) for c in range(self.rowCount(parent)))
        return out

    def mapToSource(self, index: _Index) -> QModelIndex:
        tree = self._tree
        if tree is None or not index.isValid():
            return QModelIndex()
        pid = index.internalId()
        if pid == 0:
            return tree.make_index(self._cats[index.row()], index.column(), 0)
        return tree.make_index(self._source_row(pid - 1, index.row()), index.column(), pid)

    def mapFromSource(self, source: _Index) -> QModelIndex:
        if self._tree is None or not source.isValid():
            return QModelIndex()
        pid = source.internalId()
        if pid == 0:
            pos = self._cat_pos[source.row()]
            return self.createIndex(pos, source.column(), 0) if pos >= 0 else QModelIndex()
        ci = pid - 1
        if self._cat_pos[ci] < 0:
            return QModelIndex()
        row = self._our_row(ci, source.row())
        return self.createIndex(row, source.column(), pid) if row >= 0 else QModelIndex()

    # ------------------------------------------------------------------ the shown rows
    def _rows_of(self, ci: int, every: bool = False) -> list[int]:
        """While filtering: the source rows of category ``ci`` that show, made when first asked: the
        first page of them (enough for the rows shown), or ``every`` one."""
        vis = self._vis[ci]
        need = self._limit[ci]
        if vis is None or ((len(vis) < need or every) and not self._vis_all[ci]):
            assert self._tree is not None and self._shown is not None
            rows = self._tree.category_rows(ci)
            found = compress(range(len(rows)), map(self._shown.set.__contains__, rows))
            vis = self._vis[ci] = list(found if every else islice(found, need))
            self._vis_all[ci] = every or len(vis) < need
        return vis

    def _source_row(self, ci: int, row: int) -> int:
        return row if self._shown is None else self._rows_of(ci)[row]

    def _our_row(self, ci: int, source_row: int) -> int:
        """Our row of a source row of category ``ci`` (-1: filtered out)."""
        row = self._unpaged_row(ci, source_row)
        return row if row < self._limit[ci] else -1

    def _unpaged_row(self, ci: int, source_row: int) -> int:
        if self._shown is None:
            return source_row
        vis = self._rows_of(ci)
        if not self._vis_all[ci] and (not vis or source_row > vis[-1]):
            vis = self._rows_of(ci, every=True)
        i = bisect_left(vis, source_row)
        return i if i < len(vis) and vis[i] == source_row else -1

    def _count(self, ci: int) -> int:
        """Rows shown under category ``ci``."""
        assert self._tree is not None
        if self._shown is None:
            return len(self._tree.category_rows(ci))
        return self._shown.counts[ci]

    def _place_categories(self) -> None:
        if self._shown is None:
            self._cats = list(range(_NCAT))
        else:
            counts = self._shown.counts
            self._cats = [ci for ci in range(_NCAT) if counts[ci] > 0]
        self._cat_pos = [-1] * _NCAT
        for pos, ci in enumerate(self._cats):
            self._cat_pos[ci] = pos

    def _warm_later(self, delay_ms: int = 0) -> None:
        """Make the lists a keystroke reads when the event loop is idle, not at the keystroke (100,000
        models: ~60 ms). Right after a reset (the rows loaded); ``delay_ms`` after the last of a
        burst of changes (a sync changes the tree a category at a time, with the event loop running
        in between: one build at its end, not one per category)."""
        self._warm_timer.start(delay_ms)

    def _warm(self) -> None:
        if self._tree is not None and not self._tree.pending:
            self._all_rows()

    def _all_rows(self) -> _AllRows:
        assert self._tree is not None
        if self._all is None or self._all.version != self._tree.version:
            self._all = _AllRows(self._tree)
        return self._all

    def _recompute(self) -> None:
        """Everything from scratch (a new source model, a reset of it)."""
        self._vis = [None] * _NCAT
        self._limit = [ROWS_PER_PAGE] * _NCAT
        self._shown = None
        if self._filter.filtering and self._tree is not None:
            everything = self._all_rows()
            found = everything.select(self._filter, everything.rows, everything.hays, everything.kids)
            self._shown = _Shown(everything, *found)
        self._place_categories()

    def _install(self, shown: _Shown | None) -> None:
        self._shown = shown
        self._vis = [None] * _NCAT
        self._limit = [ROWS_PER_PAGE] * _NCAT
        self._place_categories()

    # ------------------------------------------------------------------ a change of filter
    def _change(self, new: _Filter) -> None:
        old = self._filter
        self._filter, self._accepts = new, new.predicate()
        tree = self._tree
        if tree is None:
            return
        shown = self._shown
        if not new.filtering:
            if shown is not None:
                self._relayout(lambda: self._install(None))
            return
        everything = self._all_rows()
        if shown is not None and shown.version == tree.version and new.narrows(old):
            found = everything.select(new, shown.rows, shown.hays, shown.kids)  # only old matches can match
            if len(found[0]) == len(shown.rows):  # the same models match: nothing moves
                return
        else:
            found = everything.select(new, everything.rows, everything.hays, everything.kids)
            if shown is not None and shown.version == tree.version and found[0] == shown.rows:
                return
        new_shown = _Shown(everything, *found)
        self._relayout(lambda: self._install(new_shown))

    def _relayout(self, install: Any) -> None:
        """Tell Qt the rows changed: ``install`` puts the new state in place between the two signals,
        and every persistent index moves to where its row now is (or goes, if it is no longer shown)."""
        self.layoutAboutToBeChanged.emit()
        old = self.persistentIndexList()
        where = [self._where(i) for i in old]
        install()
        new = [self._index_at(*w) for w in where]
        self.layout_changes += 1
        self.changePersistentIndexList(old, new)
        self.layoutChanged.emit()

    def _where(self, index: QModelIndex) -> tuple[int, int, int]:
        """(internal id, source row, column) of one of our indexes, in the current state."""
        pid = index.internalId()
        if pid == 0:
            return 0, self._cats[index.row()], index.column()
        return pid, self._source_row(pid - 1, index.row()), index.column()

    def _index_at(self, pid: int, source_row: int, column: int) -> QModelIndex:
        if pid == 0:
            pos = self._cat_pos[source_row]
            return self.createIndex(pos, column, 0) if pos >= 0 else QModelIndex()
        ci = pid - 1
        if self._cat_pos[ci] < 0:
            return QModelIndex()
        row = self._unpaged_row(ci, source_row)
        if row < 0:
            return QModelIndex()
        self._limit[ci] = max(self._limit[ci], row + 1)  # a selected row stays shown
        return self.createIndex(row, column, pid)

    # ------------------------------------------------------------------ paging
    def can_show_more(self, parent: _Index) -> bool:
        """A category whose rows are shown a page at a time, with rows left to show."""
        if not parent.isValid() or parent.internalId() != 0 or self._tree is None:
            return False
        ci = self._cats[parent.row()]
        return self._count(ci) > self._limit[ci]

    def show_more(self, parent: _Index, upto: int = 0) -> None:
        """Show the next page of a category's rows (or up to row ``upto``)."""
        if not self.can_show_more(parent):
            return
        ci = self._cats[parent.row()]
        first, count = self._limit[ci], self._count(ci)
        last = min(count, max(first + ROWS_PER_PAGE, upto + 1)) - 1
        self.beginInsertRows(self.index(parent.row(), 0), first, last)
        self._limit[ci] = last + 1
        self.endInsertRows()

    def show_all(self) -> None:
        """Every row of every shown category (tests; a view never needs it)."""
        for r in range(self.rowCount()):
            parent = self.index(r, 0)
            if self.can_show_more(parent):
                self.show_more(parent, upto=self._count(self._cats[r]))

    def reveal(self, source: _Index) -> QModelIndex:
        """``mapFromSource``, showing more of the category first when the row is beyond its page."""
        if source.isValid() and source.internalId() != 0 and self._cat_pos[source.internalId() - 1] >= 0:
            ci = source.internalId() - 1
            row = self._unpaged_row(ci, source.row())
            if row >= self._limit[ci]:
                self.show_more(self.index(self._cat_pos[ci], 0), upto=row)
        return self.mapFromSource(source)

    # ------------------------------------------------------------------ following the source
    def _source_about(self, *_args: Any) -> None:
        """The tree is about to change: hold our persistent indexes as the tree's, which Qt (and the
        tree's own relayout) keep pointing at their rows while it changes."""
        if self._saved is not None:
            return
        self.layoutAboutToBeChanged.emit()
        self._saved = [(i, QPersistentModelIndex(self.mapToSource(i))) for i in self.persistentIndexList()]

    def _source_done(self, categories: Iterable[int]) -> None:
        """The tree changed in ``categories``: recount them, and move our persistent indexes back."""
        assert self._tree is not None
        shown = self._shown
        if shown is not None:
            shown.version = -1  # the tree moved on: the next keystroke starts from every model
            shown.total = None
            for ci in categories:
                self._vis[ci] = None
                shown.counts[ci] = len(self._rows_of(ci, every=True))
        self._place_categories()
        self._warm_later(_WARM_AFTER_CHANGES_MS)
        saved, self._saved = self._saved, None
        if saved is None:  # pragma: no cover - the tree always announces a change first
            return
        old = [i for i, _ in saved]
        new = [
            self._index_at(s.internalId(), s.row(), s.column()) if s.isValid() else QModelIndex()
            for _, s in saved
        ]
        self.layout_changes += 1
        self.changePersistentIndexList(old, new)
        self.layoutChanged.emit()

    def _judge(self, rows: Iterable[ModelRow]) -> None:
        """Evaluate the filter again for these rows (new or changed ones)."""
        if self._shown is None:
            return
        matched, accepts = self._shown.set, self._accepts
        for r in rows:
            if accepts(r):
                matched.add(r)
            else:
                matched.discard(r)

    def _source_inserted(self, parent: QModelIndex, first: int, last: int) -> None:
        assert self._tree is not None
        if not parent.isValid():  # pragma: no cover - the categories are fixed
            self._source_done(range(_NCAT))
            return
        ci = parent.row()
        self._judge(self._tree.category_rows(ci)[first : last + 1])
        self._source_done([ci])

    def _source_removed(self, parent: QModelIndex, _first: int, _last: int) -> None:
        self._source_done([parent.row()] if parent.isValid() else range(_NCAT))

    def _source_layout(self, parents: Any = (), _hint: Any = None) -> None:
        assert self._tree is not None
        cats = [p.row() for p in parents if p.isValid() and p.internalId() == 0] if parents else []
        if not cats:
            cats = list(range(_NCAT))
        for ci in cats:
            self._judge(self._tree.category_rows(ci))
        self._source_done(cats)

    def _source_reset(self) -> None:
        self._saved = None
        self._recompute()
        self.endResetModel()
        self._warm_later()

    def _source_data(self, top: QModelIndex, bottom: QModelIndex, roles: Any = ()) -> None:
        tree = self._tree
        assert tree is not None
        pid = top.internalId()
        if pid == 0:  # category rows: their labels (counts) and greying
            shown = [self._cat_pos[ci] for ci in range(top.row(), bottom.row() + 1) if self._cat_pos[ci] >= 0]
            if shown:
                self.dataChanged.emit(
                    self.createIndex(min(shown), 0, 0), self.createIndex(max(shown), bottom.column(), 0)
                )
            return
        ci = pid - 1
        if self._shown is not None:
            # Changed rows are new ModelRows: judge them, and show the category again (the rows shown
            # so far are where the old ones were; an index into them has made that list already).
            self._judge(tree.category_rows(ci)[top.row() : bottom.row() + 1])
            self._source_about()
            self._source_done([ci])
            return
        if self._cat_pos[ci] < 0:
            return
        first, last = top.row(), min(bottom.row(), self._limit[ci] - 1)
        if first > last:
            return
        self.dataChanged.emit(
            self.createIndex(first, top.column(), pid), self.createIndex(last, bottom.column(), pid), roles
        )

    # ------------------------------------------------------------------ Qt overrides (camelCase)
    def index(self, row: int, column: int, parent: _Index = QModelIndex()) -> QModelIndex:  # noqa: B008
        if column < 0 or column >= _NCOLS or row < 0:
            return QModelIndex()
        if not parent.isValid():
            return self.createIndex(row, column, 0) if row < len(self._cats) else QModelIndex()
        if parent.internalId() != 0 or parent.column() != 0:
            return QModelIndex()
        ci = self._cats[parent.row()]
        if row >= self._limit[ci] or row >= self._count(ci):
            return QModelIndex()
        if self._shown is not None:
            # Where a row shows is known while any index to it exists: a change of the tree maps the
            # indexes with it (the tree's rows may already have changed by then).
            self._rows_of(ci)
        return self.createIndex(row, column, ci + 1)

    def parent(self, child: _Index = QModelIndex()) -> QModelIndex:  # type: ignore[override]  # noqa: B008
        if not child.isValid():
            return QModelIndex()
        pid = child.internalId()
        if pid == 0:
            return QModelIndex()
        return self.createIndex(self._cat_pos[pid - 1], 0, 0)

    def rowCount(self, parent: _Index = QModelIndex()) -> int:  # noqa: B008
        if not parent.isValid():
            return len(self._cats)
        if parent.internalId() != 0 or parent.column() != 0:
            return 0
        ci = self._cats[parent.row()]
        return min(self._limit[ci], self._count(ci))

    def columnCount(self, parent: _Index = QModelIndex()) -> int:  # noqa: B008
        return _NCOLS

    def hasChildren(self, parent: _Index = QModelIndex()) -> bool:  # noqa: B008
        # From the counts: Qt asks for every row it lays out, and a collapsed category's rows are
        # never made just to draw its expand arrow.
        if not parent.isValid():
            return bool(self._cats)
        if parent.internalId() != 0 or parent.column() != 0:
            return False
        tree = self._tree
        assert tree is not None
        ci = self._cats[parent.row()]
        if tree.pending:
            return tree.hasChildren(tree.make_index(ci, 0, 0))
        return self._count(ci) > 0

    def canFetchMore(self, parent: _Index) -> bool:
        tree = self._tree
        if tree is None or not parent.isValid() or parent.internalId() != 0:
            return False
        return tree.canFetchMore(tree.make_index(self._cats[parent.row()], 0, 0))

    def fetchMore(self, parent: _Index) -> None:
        tree = self._tree
        if tree is not None and parent.isValid() and parent.internalId() == 0:
            tree.fetchMore(tree.make_index(self._cats[parent.row()], 0, 0))

    def headerData(
        self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole
    ) -> Any:
        return self._tree.headerData(section, orientation, role) if self._tree is not None else None

    def data(self, index: _Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid():
            return None
        tree = self._tree
        assert tree is not None
        pid = index.internalId()
        if pid == 0:
            return tree.cell_data(0, self._cats[index.row()], index.column(), role)
        row = index.row() if self._shown is None else self._rows_of(pid - 1)[index.row()]
        return tree.cell_data(pid, row, index.column(), role)
