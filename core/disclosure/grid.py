"""The single-figure and rows x columns forms, built on ``Table``."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from .policy import DisclosedCell, DisclosurePolicy, Position, check_count
from .table import Table


@dataclass(frozen=True)
class CountTable:
    """A 2-D table of non-negative integer counts with row and column labels."""

    row_labels: tuple[str, ...]
    column_labels: tuple[str, ...]
    values: tuple[tuple[int, ...], ...]

    def __post_init__(self) -> None:
        object.__setattr__(self, "row_labels", tuple(self.row_labels))
        object.__setattr__(self, "column_labels", tuple(self.column_labels))
        object.__setattr__(self, "values", tuple(tuple(row) for row in self.values))
        self._check_shape()

    def _check_shape(self) -> None:
        if len(self.values) != len(self.row_labels):
            raise ValueError("one row label per row is required")
        for row in self.values:
            if len(row) != len(self.column_labels):
                raise ValueError("every row needs one value per column label")
            for value in row:
                check_count(value)


@dataclass(frozen=True)
class DisclosedTable:
    row_labels: tuple[str, ...]
    column_labels: tuple[str, ...]
    cells: tuple[tuple[DisclosedCell, ...], ...]
    row_totals: tuple[DisclosedCell, ...]
    column_totals: tuple[DisclosedCell, ...]
    grand_total: DisclosedCell
    policy: DisclosurePolicy = field(default_factory=DisclosurePolicy)

    def cell(self, row_label: str, column_label: str) -> DisclosedCell:
        row = self.row_labels.index(row_label)
        return self.cells[row][self.column_labels.index(column_label)]

    def display_rows(self, *, total_label: str = "Total") -> list[list[str]]:
        """Header plus rows of display strings, totals last: ready for a CSV writer."""
        rows = [["", *self.column_labels, total_label]]
        for label, cells, total in zip(self.row_labels, self.cells, self.row_totals, strict=True):
            rows.append([label, *(c.display for c in cells), total.display])
        rows.append([total_label, *(c.display for c in self.column_totals),
                     self.grand_total.display])
        return rows


def disclose_count(n: int, policy: DisclosurePolicy | None = None) -> DisclosedCell:
    """Disclosure control for one figure: 0 stays 0, 1..threshold-1 suppressed, else rounded.

    Only for a figure that no published sum or derived value links to others; otherwise
    build a ``Table``."""
    table = Table(policy)
    table.count("n", n)
    return table.publish()["n"]


def grid_table(values: Sequence[Sequence[int]], policy: DisclosurePolicy | None = None, *,
               costs: Sequence[Sequence[float]] | None = None,
               exact_published: bool = False) -> Table:
    """A ``Table`` of a grid with its row totals, column totals and grand total, keyed by
    (i, j) positions: the last row and the last column are the margins.

    ``exact_published``: something published beside each figure (a rate, an interval)
    gives it away exactly, so the reader is assumed to know every published figure."""
    rows, columns = len(values), len(values[0]) if values else 0
    table = Table(policy)
    for i in range(rows):
        for j in range(columns):
            table.count((i, j), values[i][j], cost=None if costs is None else costs[i][j])
        table.total((i, columns), [(i, j) for j in range(columns)])
    for j in range(columns + 1):
        table.total((rows, j), [(i, j) for i in range(rows)])
    if exact_published:
        for key in list(table._values):
            table.derived(("exact", key), None, depends_on=[key])
    return table


def disclose(table: CountTable, *, policy: DisclosurePolicy | None = None,
             exact_published: bool = False) -> DisclosedTable:
    """Suppress, round and protect a whole table and its totals (see the module docstring).

    ``exact_published``: estimates published beside the figures reveal them exactly."""
    policy = policy or DisclosurePolicy()
    rows, columns = len(table.row_labels), len(table.column_labels)
    shown = grid_table(table.values, policy, exact_published=exact_published).publish()
    return DisclosedTable(
        row_labels=table.row_labels,
        column_labels=table.column_labels,
        cells=tuple(tuple(shown[(i, j)] for j in range(columns)) for i in range(rows)),
        row_totals=tuple(shown[(i, columns)] for i in range(rows)),
        column_totals=tuple(shown[(rows, j)] for j in range(columns)),
        grand_total=shown[(rows, columns)],
        policy=policy,
    )


def suppression_pattern(grid: list[list[int]], policy: DisclosurePolicy) -> dict[Position, str]:
    """Suppressed positions of a table *with margins* (last row and column are totals)."""
    inner = [row[:-1] for row in grid[:-1]]
    shown = grid_table(inner, policy).publish()
    return {k: c.reason for k, c in shown.cells.items() if c.suppressed}  # type: ignore[misc]
