"""The category tree as a Qt item model over core ``UnifiedModel`` objects.

As in napari's ``_base_item_model`` and vorta's table models, the Python objects are the source of
truth and this class only mirrors them: two levels, the categories (always all of them, in
``CATEGORY_ORDER``) and under each the models that belong to it, sorted by name. A model belongs to
every category in its ``categories`` (DESIGN.md, "Category rules"), so it has a row under each of them;
those rows share one ``ModelRow`` (what they show is computed once per model, not once per row), and
the row under its primary ``category`` is the one ``index_of`` answers (programmatic selection).
A full reload uses ``beginResetModel``; a sync of one source inserts, removes and changes only the
rows that differ (``beginInsertRows``/``beginRemoveRows``/targeted ``dataChanged``), so selection and
scroll position survive a refresh; a model whose categories change leaves the ones it left and joins
the new ones.

Indexes carry no Python pointers: a category's internal id is 0, a model's is its category row + 1.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from enum import IntEnum
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QAbstractItemModel, QModelIndex, QPersistentModelIndex, Qt
from PySide6.QtGui import QColor, QFont, QPalette
from PySide6.QtWidgets import QApplication

from desktop_app.core.capabilities import CAPABILITY_LABELS
from desktop_app.core.enums import Category, ModelStatus
from desktop_app.core.model_query import ModelFacts, badge_for, category_of_value
from desktop_app.core.pools import BADGE_POOL, POOL_OWNER, pool_row_model
from desktop_app.gui import icons
from desktop_app.gui.labels import (
    CATEGORY_EMPTY_HINTS,
    CATEGORY_LABELS,
    CATEGORY_ORDER,
    explain_status,
)

if TYPE_CHECKING:
    from desktop_app.core.models import UnifiedModel
    from desktop_app.core.pools import Pool

__all__ = [
    "BADGE_POOL",
    "COLUMNS",
    "POOL_OWNER",
    "Col",
    "ItemRole",
    "ModelRow",
    "PoolRow",
    "QtModelTreeModel",
    "category_of",
    "pool_row_model",
]

_Index = QModelIndex | QPersistentModelIndex


class Col(IntEnum):
    NAME = 0
    BADGE = 1
    CAPABILITIES = 2
    SOURCE = 3
    STATUS = 4


_NCOLS = len(Col)

COLUMNS: dict[Col, str] = {
    Col.NAME: "Model",
    Col.BADGE: "Runs",
    Col.CAPABILITIES: "Capabilities",
    Col.SOURCE: "Source",
    Col.STATUS: "Status",
}


class ItemRole(IntEnum):
    MODEL = int(Qt.ItemDataRole.UserRole) + 1  # the UnifiedModel (None on category rows)
    CATEGORY = int(Qt.ItemDataRole.UserRole) + 2  # the category's value (str) of the row or its parent
    MODEL_ID = int(Qt.ItemDataRole.UserRole) + 3  # model id, or "" on category rows
    BADGE = int(Qt.ItemDataRole.UserRole) + 4  # LOCAL / REMOTE / EXPERIMENTAL
    COUNT = int(Qt.ItemDataRole.UserRole) + 5  # number of models in a category (unfiltered)
    SORT = int(Qt.ItemDataRole.UserRole) + 6  # a sort key (plain Python value)
    CELL = int(Qt.ItemDataRole.UserRole) + 8  # a Cell: everything the delegate paints, in one call


def category_of(index: QModelIndex | QPersistentModelIndex) -> Category | None:
    """The Category of a row (Qt hands str-based enums back as plain strings)."""
    value = index.data(ItemRole.CATEGORY) if index.isValid() else None
    return Category(value) if value else None


_SHOWN_CAPS = ("embedding", "vision", "image", "tools", "thinking", "insert", "audio")
_GREY_STATUSES = frozenset(
    {ModelStatus.OFFLINE, ModelStatus.RETIRED, ModelStatus.ERROR, ModelStatus.DISABLED}
)


class Cell:
    """What the delegate paints in one cell: ``kind`` is text | badge | status | category; ``extra``
    the badge name, status value or category value."""

    __slots__ = ("extra", "grey", "kind", "text")

    def __init__(self, kind: str, text: str, grey: bool, extra: str = "") -> None:
        self.kind, self.text, self.grey, self.extra = kind, text, grey, extra


class ModelRow(ModelFacts):
    """One model plus what the tree paints, computed once when the row is made.

    The filter's inputs (``haystack``, ``capabilities``, ``local``, ``provider``, ``categories``) come
    from ``core.model_query.ModelFacts``, the same facts the Gradio app filters on. A row is made from
    a ``UnifiedModel``, or (at start-up, before pydantic is even imported) from the registry's stored
    JSON (``from_json``); then ``model`` is validated on first use (the detail pane, a tooltip) or by
    ``QtModelTreeModel.materialize``. Everything the tree paints is a plain attribute.
    """

    __slots__ = ("_cells", "_texts", "grey")

    def _fill(self, **facts: Any) -> None:
        super()._fill(**facts)
        self.grey = self.status in _GREY_STATUSES
        self._texts: tuple[str, ...] | None = None
        self._cells: tuple[Cell, ...] | None = None

    @property
    def texts(self) -> tuple[str, ...]:
        """What each column shows (DisplayRole), in column order; made when first asked (100,000 rows
        are made at start-up, a screenful is painted)."""
        texts = self._texts
        if texts is None:
            caps = ", ".join(CAPABILITY_LABELS.get(c, c) for c in _SHOWN_CAPS if c in self.capabilities)
            texts = self._texts = (self.name, self.badge, caps, self.owner, self.status.value)
        return texts

    @property
    def cells(self) -> tuple[Cell, ...]:
        """What the delegate paints, per column; made when first painted."""
        cells = self._cells
        if cells is None:
            texts, grey = self.texts, self.grey
            cells = self._cells = (
                Cell("text", texts[0], grey),
                Cell("badge", self.badge, grey, self.badge),
                Cell("text", texts[2], grey),
                Cell("text", texts[3], grey),
                Cell("status", texts[4], grey, texts[4]),
            )
        return cells

    def matches(self, words: tuple[str, ...]) -> bool:
        hay = self.haystack
        for w in words:  # noqa: SIM110 - a loop is faster here
            if w not in hay and not self.provider.startswith(w):
                return False
        return True


class PoolRow(ModelRow):
    """A pool's row: the POOL badge, and its host count in the Source column."""

    __slots__ = ("pool",)

    def __init__(self, model: UnifiedModel, pool: Pool) -> None:
        super().__init__(model)
        self.pool = pool
        self.badge = BADGE_POOL
        self.sort_key = _sort_key(model)  # before its hosts' rows, whatever their names

    @property
    def texts(self) -> tuple[str, ...]:
        texts = self._texts
        if texts is None:
            name, _badge, caps, _owner, status = super().texts
            texts = self._texts = (name, self.badge, caps, f"{len(self.pool.members)} hosts", status)
        return texts


def _sort_key(model: UnifiedModel) -> tuple[str, str]:
    """By name, then id; a pool's row first among its hosts' rows (see ``PoolRow``)."""
    if model.provider == POOL_OWNER:
        return (model.name.lower(), "\0" + model.id)
    return (model.name.lower(), model.id)


def _same(a: UnifiedModel, b: UnifiedModel) -> bool:
    """Equal for display purposes: everything but the sync timestamp."""
    if a is b:
        return True
    da, db = a.__dict__, b.__dict__
    return all(da[k] == db[k] for k in da if k != "updated_at")


def _members(model: UnifiedModel) -> list[Category]:
    """The categories a model has a row in: all of ``categories``, and its primary ``category``."""
    cats = model.categories
    if not cats:
        return [model.category]
    if model.category in cats:
        return list(dict.fromkeys(cats))
    return [model.category, *dict.fromkeys(cats)]


def _find(rows: list[ModelRow], key: tuple[str, str]) -> int | None:
    """The position of the row with this sort key in a category's sorted rows (binary search)."""
    lo, hi = 0, len(rows)
    while lo < hi:
        mid = (lo + hi) // 2
        if rows[mid].sort_key < key:
            lo = mid + 1
        else:
            hi = mid
    return lo if lo < len(rows) and rows[lo].sort_key == key else None


def _runs(rows: list[int]) -> list[tuple[int, int]]:
    """Sorted row numbers -> (first, last) runs of consecutive rows."""
    out: list[tuple[int, int]] = []
    for r in rows:
        if out and out[-1][1] == r - 1:
            out[-1] = (out[-1][0], r)
        else:
            out.append((r, r))
    return out


class QtModelTreeModel(QAbstractItemModel):
    def __init__(self, models: Iterable[UnifiedModel] = (), parent: Any = None) -> None:
        super().__init__(parent)
        self._rows: list[list[ModelRow]] = [[] for _ in CATEGORY_ORDER]
        self._cat_row = {cat: i for i, cat in enumerate(CATEGORY_ORDER)}
        # model id -> (category row, row) of its row under its primary category
        self._where: dict[str, tuple[int, int]] = {}
        self._pools: dict[str, UnifiedModel] = {}  # pool rows shown: pool id -> its row's model
        self._unique: tuple[int, list[ModelRow]] | None = None  # (version, one ModelRow per model)
        self._local: tuple[int, int] | None = None  # (version, how many of them are local)
        # Bumped after every change of the rows and before the signal that announces it is done, so
        # a proxy's caches know when they are stale even while Qt is still handling the change.
        self.version = 0
        self._labeler: Callable[[int], str] | None = None
        # A big registry's first paint: (models per category, total, local) from one query, shown until
        # the rows are read (``set_pending``); ``fetch`` is asked for them when a category is expanded.
        self._pending: tuple[list[int], int, int] | None = None
        self._fetch: Callable[[], None] | None = None
        self.fetch_requested: set[Category] = set()  # categories expanded while the rows were pending
        self.set_models(models)

    # ------------------------------------------------------------------ our API (snake_case)
    def set_models(self, models: Iterable[UnifiedModel]) -> None:
        """Full reload (start-up, or a change too large to apply row by row)."""
        self.set_rows(ModelRow(m) for m in models)

    def set_pending(
        self, kinds: Iterable[tuple[str, str, str, str, int]], fetch: Callable[[], None] | None = None
    ) -> None:
        """Show counts only: ``kinds`` is ``Registry.kind_counts()`` (models per kind). Categories
        answer no rows until ``set_rows``; expanding one asks ``fetch`` (later, from the event loop)."""
        counts = [0] * len(CATEGORY_ORDER)
        total = local = 0
        for category, categories, model_type, serving_type, n in kinds:
            # A model has a row under its primary category and under each of its categories.
            members = dict.fromkeys([category_of_value(category)])
            members.update(dict.fromkeys(category_of_value(c) for c in categories.split(",") if c))
            for cat in members:
                counts[self._cat_row[cat]] += n
            total += n
            local += n if badge_for(model_type, serving_type) != "REMOTE" else 0
        self.beginResetModel()
        self._rows = [[] for _ in CATEGORY_ORDER]
        self._pools = {}
        self._reindex()
        self._pending = (counts, total, local)
        self._fetch = fetch
        self.version += 1
        self.endResetModel()

    @property
    def pending(self) -> bool:
        """Only counts are known yet (a big registry right after start-up)."""
        return self._pending is not None

    def _count(self, ci: int) -> int:
        pending = self._pending
        return pending[0][ci] if pending is not None else len(self._rows[ci])

    def canFetchMore(self, parent: _Index) -> bool:
        return (
            self._pending is not None
            and parent.isValid()
            and parent.internalId() == 0
            and self._pending[0][parent.row()] > 0
        )

    def fetchMore(self, parent: _Index) -> None:
        if not self.canFetchMore(parent):
            return
        self.fetch_requested.add(CATEGORY_ORDER[parent.row()])
        if self._fetch is not None:
            # Not now: Qt asks while it lays the view out, and the rows arrive as a model reset.
            from PySide6.QtCore import QTimer

            QTimer.singleShot(0, self._fetch)

    def set_rows(self, new_rows: Iterable[ModelRow]) -> None:
        self.beginResetModel()
        self._pending = None
        self._pools = {}
        self._rows = [[] for _ in CATEGORY_ORDER]
        cat_row = self._cat_row
        for row in new_rows:
            for cat in row.categories:
                self._rows[cat_row[cat]].append(row)
        for rows in self._rows:
            rows.sort(key=lambda r: r.sort_key)
        self._reindex()
        self.version += 1
        self.endResetModel()

    @classmethod
    def from_json(cls, texts: Iterable[str], parent: Any = None) -> QtModelTreeModel:
        """The tree from the registry's stored JSON, before any pydantic model is built (start-up)."""
        tree = cls((), parent)
        tree.set_rows(ModelRow.from_json(t) for t in texts)
        return tree

    def materialize(self, limit: int) -> int:
        """Validate up to ``limit`` models still held as JSON; returns how many remain."""
        left = 0
        for row in self.unique_rows():
            if not row.materialized:
                if limit > 0:
                    _ = row.model
                    limit -= 1
                else:
                    left += 1
        return left

    def update_models(self, models: Sequence[UnifiedModel], scope: Iterable[str] | None = None) -> None:
        """Make the tree show ``models`` for the providers in ``scope`` (all providers when None).

        Rows outside the scope are left alone, so one source's sync never touches another's rows.
        """
        for _ in self.update_steps(models, scope):
            pass

    def update_steps(
        self,
        models: Sequence[UnifiedModel],
        scope: Iterable[str] | None = None,
        made: dict[str, ModelRow] | None = None,
    ) -> Iterator[int]:
        """``update_models`` one category at a time: yields after each, so that the window can let the
        event loop run in between. The tree is consistent at every yield. ``made``: rows already made
        for some of ``models`` (pool rows), used when their row is new or changed."""
        providers = None if scope is None else set(scope)
        new_by_cat: list[list[UnifiedModel]] = [[] for _ in CATEGORY_ORDER]
        cat_row = self._cat_row
        for m in models:
            for cat in _members(m):
                new_by_cat[cat_row[cat]].append(m)
        # The rows made during this update, by model id: a model's rows in its categories share one.
        made = dict(made) if made else {}
        for ci in range(len(self._rows)):
            rows = self._rows[ci]
            # Outside the scope: other sources' rows; with no scope (every source), the pool rows.
            keep = [
                r.model
                for r in rows
                if (r.owner not in providers if providers is not None else r.owner == POOL_OWNER)
            ]
            wanted = sorted([*keep, *new_by_cat[ci]], key=_sort_key)
            old_ids = [r.id for r in rows]
            self._apply_category(ci, wanted, made)
            where = self._where
            for model_id in old_ids:
                if where.get(model_id, (-1, 0))[0] == ci:
                    del where[model_id]
            cat = CATEGORY_ORDER[ci]
            where.update((r.id, (ci, i)) for i, r in enumerate(self._rows[ci]) if r.category is cat)
            yield ci

    def model_at(self, category_row: int, row: int) -> ModelRow:
        return self._rows[category_row][row]

    def unique_rows(self) -> list[ModelRow]:
        """One ``ModelRow`` per model (a model has a row in each of its categories; they share it)."""
        cached = self._unique
        if cached is None or cached[0] != self.version:
            seen: dict[int, ModelRow] = {}
            for rows in self._rows:
                for r in rows:
                    seen[id(r)] = r
            cached = self._unique = (self.version, list(seen.values()))
        return cached[1]

    def models(self) -> list[UnifiedModel]:
        """Every model of the registry once (pool rows are not models of the registry)."""
        return [r.model for r in self.unique_rows() if r.owner != POOL_OWNER]

    def pool_count(self) -> int:
        """How many pool rows (each pool once)."""
        return len(self._pools)

    def pools_changed(self, entries: Sequence[tuple[UnifiedModel, Pool]]) -> bool:
        """Whether these pools (``pool_row_model`` of each, with its ``Pool``) differ from the pool rows
        shown: a refresh after every sync usually finds them the same, and touches nothing."""
        shown = self._pools
        return len(entries) != len(shown) or not all(
            (old := shown.get(m.id)) is not None and _same(old, m) for m, _ in entries
        )

    def pool_steps(self, entries: Sequence[tuple[UnifiedModel, Pool]]) -> Iterator[int]:
        """Show these pools, one row in each of their model's categories (pools that are gone leave),
        a category at a time as ``update_steps``."""
        rows: dict[str, ModelRow] = {m.id: PoolRow(m, pool) for m, pool in entries}
        models = [m for m, _ in entries]
        yield from self.update_steps(models, scope=[POOL_OWNER], made=rows)
        self._pools = {m.id: m for m in models}

    def model_count(self) -> int:
        """How many models (not rows: a model in three categories counts once)."""
        if self._pending is not None:
            return self._pending[1]
        return len(self.unique_rows())

    def local_count(self) -> int:
        if self._pending is not None:
            return self._pending[2]
        cached = self._local
        if cached is None or cached[0] != self.version:
            cached = self._local = (self.version, sum(1 for r in self.unique_rows() if r.local))
        return cached[1]

    def category_count(self, category: Category) -> int:
        return self._count(self._cat_row[category])

    def index_of(self, model_id: str, column: int = 0) -> QModelIndex:
        """The model's row under its primary category (invalid when the model is not in the tree)."""
        where = self._where.get(model_id)
        if where is None:
            return QModelIndex()
        return self.createIndex(where[1], column, where[0] + 1)

    def indexes_of(self, model_id: str, column: int = 0) -> list[QModelIndex]:
        """Every row of the model, one per category it belongs to, in category order."""
        where = self._where.get(model_id)
        if where is None:
            return []
        row = self._rows[where[0]][where[1]]
        out = []
        for cat in row.categories:
            ci = self._cat_row[cat]
            rows = self._rows[ci]
            i = _find(rows, row.sort_key)
            if i is not None and rows[i].id == model_id:
                out.append(self.createIndex(i, column, ci + 1))
        out.sort(key=lambda ix: ix.internalId())
        return out

    def category_index(self, category: Category) -> QModelIndex:
        return self.createIndex(self._cat_row[category], 0, 0)

    def category_rows(self, category_row: int) -> list[ModelRow]:
        """The rows of one category (read-only by convention: the filter proxy reads them)."""
        return self._rows[category_row]

    def make_index(self, row: int, column: int, pid: int) -> QModelIndex:
        """The index (row, column, internal id) names, unchecked: the filter proxy maps through it."""
        return self.createIndex(row, column, pid)

    # ------------------------------------------------------------------ diffing
    def _reindex(self) -> None:
        self._where = {
            r.id: (ci, i)
            for ci, (cat, rows) in enumerate(zip(CATEGORY_ORDER, self._rows, strict=True))
            for i, r in enumerate(rows)
            if r.category is cat
        }

    def _apply_category(self, ci: int, wanted: list[UnifiedModel], made: dict[str, ModelRow]) -> None:
        rows = self._rows[ci]
        parent = self.createIndex(ci, 0, 0)
        wanted_keys = {m.id: _sort_key(m) for m in wanted}

        def stays(r: ModelRow) -> bool:
            # A row whose sort key changed moves: it is removed here and inserted at its new place.
            return wanted_keys.get(r.id) == r.sort_key

        kept = sum(1 for r in rows if stays(r))
        if (len(rows) - kept) + (len(wanted) - kept) > _BULK_CHANGE:
            self._relayout_category(ci, wanted, made)
            return

        def fresh(m: UnifiedModel) -> ModelRow:
            row = made.get(m.id)
            if row is None:
                row = made[m.id] = ModelRow(m)
            return row

        touched = False
        # Removals, from the bottom so row numbers stay valid; contiguous runs go in one call.
        i = len(rows) - 1
        while i >= 0:
            if stays(rows[i]):
                i -= 1
                continue
            end = i
            while i - 1 >= 0 and not stays(rows[i - 1]):
                i -= 1
            self.beginRemoveRows(parent, i, end)
            del rows[i : end + 1]
            self.version += 1
            self.endRemoveRows()
            touched = True
            i -= 1
        # Insertions and changes, top-down: what is left of ``rows`` is a subsequence of ``wanted``.
        pos, n = 0, len(wanted)
        changed: list[int] = []
        while pos < n:
            m = wanted[pos]
            if pos < len(rows) and rows[pos].id == m.id:
                if not _same(rows[pos].model, m):
                    rows[pos] = fresh(m)
                    changed.append(pos)
                else:
                    rows[pos].model = m
                pos += 1
                continue
            next_id = rows[pos].id if pos < len(rows) else None
            end = pos
            while end < n and wanted[end].id != next_id:
                end += 1
            self.beginInsertRows(parent, pos, end - 1)
            rows[pos:pos] = [fresh(x) for x in wanted[pos:end]]
            self.version += 1
            self.endInsertRows()
            touched = True
            pos = end
        if changed:
            self.version += 1
        for first, last in _runs(changed):
            self.dataChanged.emit(
                self.createIndex(first, 0, ci + 1), self.createIndex(last, _NCOLS - 1, ci + 1)
            )
        if len(rows) != len(wanted):  # pragma: no cover - invariant
            raise AssertionError("tree diff went wrong")
        if touched or changed:
            self.dataChanged.emit(parent, parent)  # the count in the label, and whether it shows

    def _relayout_category(self, ci: int, wanted: list[UnifiedModel], made: dict[str, ModelRow]) -> None:
        """Many rows in and out at once (a big sync): one layout change instead of a signal per run of
        rows, which costs Qt's proxy and view a pass over the category each. Persistent indexes (the
        selection, expanded rows) follow their models; rows that left become invalid."""
        rows = self._rows[ci]
        parent = QPersistentModelIndex(self.createIndex(ci, 0, 0))
        hint = QAbstractItemModel.LayoutChangeHint.NoLayoutChangeHint
        self.layoutAboutToBeChanged[_LAYOUT_SIG].emit([parent], hint)  # type: ignore[index]
        by_id = {r.id: r for r in rows}
        new_rows: list[ModelRow] = []
        for m in wanted:
            old = by_id.get(m.id)
            if old is not None and old.sort_key == _sort_key(m) and _same(old.model, m):
                old.model = m
                new_rows.append(old)
            else:
                row = made.get(m.id)
                if row is None:
                    row = made[m.id] = ModelRow(m)
                new_rows.append(row)
        where = {r.id: i for i, r in enumerate(new_rows)}
        moved_from: list[QModelIndex] = []
        moved_to: list[QModelIndex] = []
        for index in self.persistentIndexList():
            if index.internalId() != ci + 1:
                continue
            row = rows[index.row()] if index.row() < len(rows) else None
            target = where.get(row.id) if row is not None else None
            moved_from.append(index)
            moved_to.append(
                self.createIndex(target, index.column(), ci + 1) if target is not None else QModelIndex()
            )
        self._rows[ci] = new_rows
        self.version += 1
        self.changePersistentIndexList(moved_from, moved_to)
        self.layoutChanged[_LAYOUT_SIG].emit([parent], hint)  # type: ignore[index]
        self.dataChanged.emit(parent, parent)  # the count in the label

    # ------------------------------------------------------------------ Qt overrides (camelCase)
    def index(self, row: int, column: int, parent: _Index = QModelIndex()) -> QModelIndex:  # noqa: B008
        if column < 0 or column >= _NCOLS or row < 0:
            return QModelIndex()
        if not parent.isValid():
            if row >= len(self._rows):
                return QModelIndex()
            return self.createIndex(row, column, 0)
        if parent.internalId() != 0 or parent.column() != 0:
            return QModelIndex()
        ci = parent.row()
        if row >= len(self._rows[ci]):
            return QModelIndex()
        return self.createIndex(row, column, ci + 1)

    def parent(self, child: _Index = QModelIndex()) -> QModelIndex:  # type: ignore[override]  # noqa: B008
        if not child.isValid():
            return QModelIndex()
        pid = child.internalId()
        if pid == 0:
            return QModelIndex()
        return self.createIndex(pid - 1, 0, 0)

    def rowCount(self, parent: _Index = QModelIndex()) -> int:  # noqa: B008
        if not parent.isValid():
            return len(self._rows)
        if parent.internalId() != 0 or parent.column() != 0:
            return 0
        return len(self._rows[parent.row()])

    def columnCount(self, parent: _Index = QModelIndex()) -> int:  # noqa: B008
        return _NCOLS

    def hasChildren(self, parent: _Index = QModelIndex()) -> bool:  # noqa: B008
        if self._pending is not None and parent.isValid() and parent.internalId() == 0:
            return parent.column() == 0 and self._pending[0][parent.row()] > 0
        return self.rowCount(parent) > 0

    # flags(): Qt's default (enabled and selectable for every valid index) is exactly what the tree
    # wants, and leaving it to C++ saves a call into Python per row on every relayout.

    def headerData(
        self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole
    ) -> Any:
        if (
            orientation == Qt.Orientation.Horizontal
            and role == Qt.ItemDataRole.DisplayRole
            and 0 <= section < _NCOLS
        ):
            return COLUMNS[Col(section)]
        return None

    def set_category_labeler(self, labeler: Callable[[int], str] | None) -> None:
        """Who writes the category labels: the filter proxy passes one that counts matching models
        ("Text (3 of 12)"), and reads every cell through ``cell_data``."""
        self._labeler = labeler
        if self._rows:
            self.dataChanged.emit(self.createIndex(0, 0, 0), self.createIndex(len(self._rows) - 1, 0, 0))

    def data(self, index: _Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid():
            return None
        return self.cell_data(index.internalId(), index.row(), index.column(), role)

    def cell_data(self, pid: int, r: int, column: int, role: int) -> Any:
        """``data()`` of the cell at (internal id, row, column): the filter proxy calls it directly.
        Called for every role of every visible cell on each paint: the common answers come first."""
        if pid == 0:
            return self._category_data(r, column, role)
        rows = self._rows[pid - 1]
        if r >= len(rows):
            return None
        row = rows[r]
        if role == _CELL:
            return row.cells[column]
        if role == 0:  # DisplayRole
            return row.texts[column]
        if role in _UNUSED_ROLES:
            return None
        return self._model_data(row, column, role, pid - 1)

    def _category_data(self, ci: int, column: int, role: int) -> Any:
        cat = CATEGORY_ORDER[ci]
        count = self._count(ci)
        if role == Qt.ItemDataRole.DisplayRole:
            if column != Col.NAME:
                return None
            if self._labeler is not None:
                return self._labeler(ci)
            return f"{CATEGORY_LABELS[cat]} ({count})"
        if role == Qt.ItemDataRole.DecorationRole and column == Col.NAME:
            return icons.category_icon(cat)
        if role == Qt.ItemDataRole.FontRole and column == Col.NAME:
            return _bold_font()
        if role == Qt.ItemDataRole.ForegroundRole:
            return grey_color() if count == 0 else None  # an empty category is greyed
        if role == Qt.ItemDataRole.ToolTipRole and column == Col.NAME:
            if count == 0:
                return f"{CATEGORY_EMPTY_HINTS[cat]}."
            return (
                f"{CATEGORY_LABELS[cat]}: {count} model{'s' if count != 1 else ''} (category “{cat.value}”)"
            )
        if role == Qt.ItemDataRole.AccessibleTextRole and column == Col.NAME:
            return f"{CATEGORY_LABELS[cat]}, {count} models"
        if role == ItemRole.CATEGORY:
            return cat
        if role == ItemRole.MODEL:
            return None
        if role == ItemRole.MODEL_ID:
            return ""
        if role == ItemRole.COUNT:
            return count
        if role == ItemRole.SORT:
            return ci
        if role == _CELL:
            if column != Col.NAME:
                return Cell("text", "", False)
            label = self._labeler(ci) if self._labeler is not None else f"{CATEGORY_LABELS[cat]} ({count})"
            return Cell("category", label, count == 0, cat.value)
        return None

    def _model_data(self, row: ModelRow, column: int, role: int, ci: int) -> Any:
        if role == Qt.ItemDataRole.ForegroundRole:
            return grey_color() if row.grey else None
        if role == Qt.ItemDataRole.DecorationRole:
            return icons.status_icon(row.status) if column == Col.STATUS else None
        if role == Qt.ItemDataRole.ToolTipRole:
            if row.grey:
                return explain_status(row.status, row.status_message)
            if column == Col.BADGE:
                return _BADGE_TIPS[row.badge]
            m = row.model
            if column == Col.SOURCE and isinstance(row, PoolRow):
                return ", ".join(row.pool.sources)
            if column == Col.SOURCE:
                return m.local_endpoint or m.remote_endpoint or m.provider
            return f"{m.id}\n{m.description}" if m.description else m.id
        if role == Qt.ItemDataRole.AccessibleTextRole and column == Col.NAME:
            return f"{row.texts[0]}, {row.badge.lower()}, {row.status.value}"
        if role == ItemRole.MODEL:
            return row.model
        if role == ItemRole.CATEGORY:
            return CATEGORY_ORDER[ci]
        if role == ItemRole.MODEL_ID:
            return row.id
        if role == ItemRole.BADGE:
            return row.badge
        if role == ItemRole.COUNT:
            return 0
        if role == ItemRole.SORT:
            return row.sort_key
        return None


_CELL = int(ItemRole.CELL)
_LAYOUT_SIG = ("QList<QPersistentModelIndex>", "QAbstractItemModel::LayoutChangeHint")
_BULK_CHANGE = 24  # rows in + rows out of one category above which a sync is one layout change

_BADGE_TIPS = {
    "LOCAL": "Runs on your own Ollama host.",
    "REMOTE": "Runs at a remote service; requests leave this machine.",
    "EXPERIMENTAL": "An experimental model or variant (base model + prompt + parameters).",
    "POOL": "A pool: this model on several Ollama hosts; each request goes to the least busy one.",
}

# Roles a delegate asks for that model rows never answer (font, alignment, background, check state…).
_UNUSED_ROLES = frozenset({2, 4, 5, 6, 7, 8, 10, 12, 13, 14, 15})

_style_cache: dict[str, Any] = {}


def _bold_font() -> QFont:
    font = _style_cache.get("bold")
    if font is None:
        font = QFont(QApplication.font())
        font.setBold(True)
        _style_cache["bold"] = font
    return font


def grey_color() -> QColor:
    """The colour of greyed (unusable) rows; cached, and forgotten when the palette changes."""
    color = _style_cache.get("grey")
    if color is None:
        color = QApplication.palette().color(QPalette.ColorGroup.Disabled, QPalette.ColorRole.Text)
        _style_cache["grey"] = color
    return color


def forget_style_cache() -> None:
    _style_cache.clear()
