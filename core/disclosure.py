"""Statistical disclosure control: the one gate every count leaving the system passes.

Admin pages, API responses and CSV exports call ``disclose`` (tables) or ``disclose_count``
(single figures) and show only what comes back. The aim is that no published figure lets
anyone learn that a handful of identifiable people did something (saw a warning, called
a helpline) in a given place, channel or week.

Rules, in order
---------------
1. **True zeros are shown as 0.** Following common ONS practice, a zero is disclosed: it
   says nobody did something, which identifies no one. Zeros are never rounded. They are
   used as complementary suppressions only as a last resort (see 4).
2. **Small cells** (1 to ``threshold - 1``, default 1-9) are suppressed and shown as
   ``"<10"``. This is *primary* suppression and applies to totals as well as inner cells.
3. **Rounding**: every other figure is rounded to the nearest ``rounding_base`` (default 5,
   halves up), and never to 0, so a rounded figure cannot pass for a true zero. Totals are
   computed from the exact inner values, then rounded; they are not sums of rounded cells.
4. **Complementary (secondary) suppression.** The table is treated together with its
   margins: each row with its row total, each column with its column total, and the row of
   column totals with the grand total. A suppressed value is exactly derivable from the
   published ones precisely when it is a "bridge" in the graph whose nodes are the lines
   and whose edges are the suppressed cells (it lies on no cycle of suppressed cells). So:

   a. a line with exactly one suppressed value gets a second one: the smallest non-zero
      unsuppressed inner cell of that line, or its total when no inner cell qualifies
      (this is how a total comes to be suppressed: it would reveal a suppressed cell);
   b. a suppressed value that still is a bridge (two separately protected blocks joined by
      one cell) gets a cell suppressed that closes a cycle through it, smallest first;
   c. both rules repeat until nothing changes (a fixed point). If no non-zero cell can
      close a cycle, a zero is used; if even that fails, every non-zero value is suppressed.

   The choice is greedy (cheapest cell first), which is safe but not always minimal.

   Complementary suppressions are shown as ``"[c]"`` (the ONS symbol for confidential).

The attacker model is worst case: rules 4a-4c hold even if the attacker knows the exact
(unrounded) value of every published cell. Bounds are not protected beyond that: the
attacker learns that a ``"<10"`` cell lies between 1 and 9, which the symbol already says.

Derived statistics: a rate, proportion or interval computed from a suppressed cell must
not be shown either. Callers check ``DisclosedCell.suppressed`` and hide the statistic.

The policy can be switched off for internal testing (``enabled=False``), never in
production: ``DisclosurePolicy.validate(production=True)`` raises ``ValueError``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

COMPLEMENTARY_SYMBOL = "[c]"

Position = tuple[int, int]


@dataclass(frozen=True)
class DisclosurePolicy:
    threshold: int = 10
    rounding_base: int = 5
    enabled: bool = True

    def __post_init__(self) -> None:
        if self.threshold < 1:
            raise ValueError(f"threshold must be at least 1, got {self.threshold}")
        if self.rounding_base < 1:
            raise ValueError(f"rounding_base must be at least 1, got {self.rounding_base}")

    def validate(self, production: bool) -> None:
        """Refuse a disabled policy in production: disclosure control is not optional there."""
        if production and not self.enabled:
            raise ValueError("disclosure control may not be disabled in production")

    @property
    def small_symbol(self) -> str:
        return f"<{self.threshold}"


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
                _check_count(value)


@dataclass(frozen=True)
class DisclosedCell:
    """A publishable figure. ``value`` is None when suppressed; then hide rates and CIs."""

    value: int | None
    display: str
    suppressed: bool
    reason: str = ""  # "", "small" (primary) or "complementary" (secondary)


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
    """Disclosure control for one figure: 0 stays 0, 1..threshold-1 suppressed, else rounded."""
    policy = policy or DisclosurePolicy()
    _check_count(n)
    if not policy.enabled:
        return DisclosedCell(n, str(n), False)
    if 0 < n < policy.threshold:
        return DisclosedCell(None, policy.small_symbol, True, "small")
    return _published(n, policy)


def disclose(table: CountTable, *, policy: DisclosurePolicy | None = None) -> DisclosedTable:
    """Suppress, round and protect a whole table and its totals (see the module docstring)."""
    policy = policy or DisclosurePolicy()
    grid = _with_margins(table.values, len(table.column_labels))
    suppressed = suppression_pattern(grid, policy) if policy.enabled else {}
    shown = [
        [_cell(value, suppressed.get((i, j)), policy) for j, value in enumerate(row)]
        for i, row in enumerate(grid)
    ]
    return DisclosedTable(
        row_labels=table.row_labels,
        column_labels=table.column_labels,
        cells=tuple(tuple(row[:-1]) for row in shown[:-1]),
        row_totals=tuple(row[-1] for row in shown[:-1]),
        column_totals=tuple(shown[-1][:-1]),
        grand_total=shown[-1][-1],
        policy=policy,
    )


def suppression_pattern(grid: list[list[int]], policy: DisclosurePolicy) -> dict[Position, str]:
    """Suppressed positions of a table *with margins* (last row and column are totals)."""
    suppressed = {
        (i, j): "small"
        for i, row in enumerate(grid)
        for j, value in enumerate(row)
        if 0 < value < policy.threshold
    }
    while _protect_lines(grid, suppressed) or _protect_bridges(grid, suppressed):
        pass
    return suppressed


def _with_margins(values: Sequence[Sequence[int]], columns: int) -> list[list[int]]:
    rows = [[*row, sum(row)] for row in values]
    totals = [sum(row[j] for row in rows) for j in range(columns + 1)]
    return [*rows, totals]


def _cell(value: int, reason: str | None, policy: DisclosurePolicy) -> DisclosedCell:
    if not policy.enabled:
        return DisclosedCell(value, str(value), False)
    if reason == "small":
        return DisclosedCell(None, policy.small_symbol, True, reason)
    if reason == "complementary":
        return DisclosedCell(None, COMPLEMENTARY_SYMBOL, True, reason)
    return _published(value, policy)


def _published(n: int, policy: DisclosurePolicy) -> DisclosedCell:
    if n == 0:
        return DisclosedCell(0, "0", False)
    base = policy.rounding_base
    rounded = max(base, ((n + base // 2) // base) * base)  # halves up; never shown as 0
    return DisclosedCell(rounded, f"{rounded:,}", False)


# --- complementary suppression ----------------------------------------------------------

def _lines(grid: list[list[int]]) -> Iterable[list[Position]]:
    rows, columns = len(grid), len(grid[0])
    for i in range(rows):
        yield [(i, j) for j in range(columns)]
    for j in range(columns):
        yield [(i, j) for i in range(rows)]


def _protect_lines(grid: list[list[int]], suppressed: dict[Position, str]) -> bool:
    """Rule 4a: give every line with a single suppressed value a second one."""
    changed = False
    for line in _lines(grid):
        if sum(p in suppressed for p in line) != 1:
            continue
        choice = _cheapest(grid, suppressed, line)
        if choice is not None:
            suppressed[choice] = "complementary"
            changed = True
    return changed


def _protect_bridges(grid: list[list[int]], suppressed: dict[Position, str]) -> bool:
    """Rule 4b: close a cycle through any suppressed value that is still derivable."""
    for bridge in _bridges(suppressed):
        side_a, side_b = _sides(suppressed, bridge)
        candidates = [
            (i, j)
            for i in range(len(grid))
            for j in range(len(grid[0]))
            if (("r", i) in side_a and ("c", j) in side_b)
            or (("r", i) in side_b and ("c", j) in side_a)
        ]
        choice = _cheapest(grid, suppressed, candidates, allow_zero=True)
        if choice is None:
            _suppress_everything(grid, suppressed)
        else:
            suppressed[choice] = "complementary"
        return True
    return False


def _cheapest(
    grid: list[list[int]],
    suppressed: dict[Position, str],
    positions: Iterable[Position],
    *,
    allow_zero: bool = False,
) -> Position | None:
    """The cell that costs least to suppress.

    Non-zero before zero (a zero can only move up, so it protects one side only), inner
    cells before totals, cells that also pair up another singly-suppressed line, smallest.
    """
    last_row, last_column = len(grid) - 1, len(grid[0]) - 1
    row_counts = [sum((i, j) in suppressed for j in range(last_column + 1)) for i in range(
        last_row + 1)]
    column_counts = [sum((i, j) in suppressed for i in range(last_row + 1)) for j in range(
        last_column + 1)]

    def cost(p: Position) -> tuple[bool, bool, int, int]:
        value = grid[p[0]][p[1]]
        pairs = (row_counts[p[0]] == 1) + (column_counts[p[1]] == 1)
        return value == 0, p[0] == last_row or p[1] == last_column, -pairs, value

    options = [
        p for p in positions
        if p not in suppressed and (allow_zero or grid[p[0]][p[1]] > 0)
    ]
    return min(options, key=cost, default=None)


def _suppress_everything(grid: list[list[int]], suppressed: dict[Position, str]) -> None:
    for i, row in enumerate(grid):
        for j, value in enumerate(row):
            if value > 0 and (i, j) not in suppressed:
                suppressed[(i, j)] = "complementary"


Node = tuple[str, int]


def _graph(edges: Iterable[Position]) -> dict[Node, set[Node]]:
    graph: dict[Node, set[Node]] = {}
    for i, j in edges:
        graph.setdefault(("r", i), set()).add(("c", j))
        graph.setdefault(("c", j), set()).add(("r", i))
    return graph


def _reachable(graph: dict[Node, set[Node]], start: Node) -> set[Node]:
    seen, stack = {start}, [start]
    while stack:
        for neighbour in graph.get(stack.pop(), ()):
            if neighbour not in seen:
                seen.add(neighbour)
                stack.append(neighbour)
    return seen


def _sides(suppressed: dict[Position, str], bridge: Position) -> tuple[set[Node], set[Node]]:
    graph = _graph(p for p in suppressed if p != bridge)
    return _reachable(graph, ("r", bridge[0])), _reachable(graph, ("c", bridge[1]))


def _bridges(suppressed: dict[Position, str]) -> list[Position]:
    """Suppressed cells on no cycle of suppressed cells: exactly derivable from the rest."""
    # Tables are small (arms x outcomes, countries x channels), so the simple O(E^2)
    # check is clearer than Tarjan's algorithm and fast enough.
    return [p for p in sorted(suppressed) if ("c", p[1]) not in _sides(suppressed, p)[0]]


def _check_count(value: int) -> None:
    if isinstance(value, bool) or int(value) != value or value < 0:
        raise ValueError(f"counts must be non-negative integers, got {value!r}")
