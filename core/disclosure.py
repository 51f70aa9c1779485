"""Statistical disclosure control: the one gate every count leaving the system passes.

Everything published (admin pages, API, CSV, charts, previews, progress) is built from a
``Table``: the counts, the sums a reader knows them to obey, and every value *derived* from
them (a rate, interval, p-value, flag, ratio), declared with the counts it is computed from.
``Table.publish()`` decides what may be shown; callers show only what comes back.

How to use it (helpline, learning and evaluation code alike)::

    from core.disclosure import Table

    t = Table(policy)                                   # policy: DisclosurePolicy or None
    for arm in arms:
        t.count(("contacts", arm), contacts[arm], cost=exposures[arm])
    t.total(("contacts", "all"), [("contacts", a) for a in arms], cost=1)  # a margin
    for day in days:                                    # a second table sharing the margin
        t.count(("day", day), daily[day])
    t.sums_to(("contacts", "all"), [("day", d) for d in days])
    t.derived("rate_a", stats.poisson_rate(contacts["a"], n["a"]),
              depends_on=[("contacts", "a")])           # reveals its count exactly
    t.derived("srm_flag", flag, depends_on=[...], reveals=False)  # a yes/no reveals little
    shown = t.publish()
    shown[("contacts", "a")]          # a DisclosedCell: value None + display "<10"/"[c]" if hidden
    shown.value("rate_a")             # the derived value, or None when any count it uses is hidden

For one figure on its own, ``disclose_count(n)``; for a rows x columns table with its margins,
``disclose(CountTable(...))`` (both are built on the same rules).

Rules, and what they guarantee
------------------------------
1. **Zeros** are shown as 0 (ONS practice: nobody did it identifies no one) and are never
   used as complements, so a complementary mark always means "at least the threshold".
2. **Small counts** (1 to ``threshold - 1``) are suppressed, shown as ``"<10"``: *primary*
   suppression, margins included.
3. **Rounding**: every other count is rounded to the nearest ``rounding_base`` (halves up,
   never to 0); margins are rounded from exact values, never summed from rounded cells.
4. **Derived values** are published only when every count they depend on is published;
   otherwise they are None in every format. A derived value declared ``reveals=True`` (the
   default: a rate, interval or test statistic can be inverted) is assumed to give its
   counts away *exactly*; only yes/no flags or values computed from the published (rounded)
   figures may say ``reveals=False``.
5. **Complementary suppression by linear programming.** The reader is modelled as knowing
   exactly what is published: a ``"<10"`` cell lies in 1..threshold-1, a ``"[c]"`` cell is
   at least the threshold, a rounded figure lies within half a rounding base of its true
   value, a figure behind a published ``reveals=True`` value is exact, a zero is zero, and
   every declared sum holds. For each suppressed small count the interval it can take is
   solved with ``scipy.optimize.linprog`` (HiGHS): minimum and maximum. The count is
   protected when that interval still covers its *protection interval*, the whole range
   1..threshold-1 (less only where the symbols alone already narrow it, e.g. two "<10"
   cells summing to a "<10" margin): a reader doing arithmetic learns nothing about it
   beyond what its own symbol says. Until every small count is protected, the count whose
   suppression protects it at least cost is suppressed too ("[c]"); costs are the callers'
   (default: the count itself, so little information is lost), which lets a report keep
   the primary outcome of a large arm and hide an "all arms" margin instead.

The LP is the continuous relaxation of the reader's integer problem: its interval can only
be wider than the integer one, by less than one unit at each end, which is why the rule asks
for the whole symbol range and not a part of it. Property tests attack generated tables with
the same LP (tests/test_disclosure.py), and the report tests attack the published outputs.

The policy can be switched off for internal testing (``enabled=False``), never in
production: ``DisclosurePolicy.validate(production=True)`` raises ``ValueError``.
"""

from __future__ import annotations

import math
from collections.abc import Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy.optimize import linprog

COMPLEMENTARY_SYMBOL = "[c]"
SMALL = "small"
COMPLEMENTARY = "complementary"

Key = Hashable
Position = tuple[int, int]
_TOLERANCE = 1e-6


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

    def rounded(self, n: int) -> int:
        """The published value of a count that is not suppressed (0 stays 0)."""
        if n == 0:
            return 0
        base = self.rounding_base
        return max(base, ((n + base // 2) // base) * base)  # halves up; never shown as 0

    def rounding_interval(self, shown: int) -> tuple[int, int]:
        """What a reader knows of a count published (rounded) as ``shown``."""
        if shown == 0:
            return 0, 0
        low = shown - self.rounding_base // 2
        return max(low, self.threshold, 1), low + self.rounding_base - 1


@dataclass(frozen=True)
class DisclosedCell:
    """A publishable figure. ``value`` is None when suppressed; then hide rates and CIs."""

    value: int | None
    display: str
    suppressed: bool
    reason: str = ""  # "", "small" (primary) or "complementary" (secondary)


# --- the table ---------------------------------------------------------------------------


@dataclass(frozen=True)
class _Relation:
    total: Key
    parts: tuple[Key, ...]
    complete: bool  # total == sum(parts); else total >= sum(parts)


@dataclass(frozen=True)
class _Derived:
    value: Any
    depends_on: tuple[Key, ...]
    reveals: bool


@dataclass(frozen=True)
class Published:
    """What may leave the system: disclosed counts and the derived values that passed."""

    cells: Mapping[Key, DisclosedCell]
    derived: Mapping[Key, Any]
    hidden_derived: frozenset[Key]
    policy: DisclosurePolicy

    def __getitem__(self, key: Key) -> DisclosedCell:
        return self.cells[key]

    def value(self, key: Key) -> Any:
        """The derived value, or None when a count it depends on is suppressed."""
        if key in self.hidden_derived:
            return None
        return self.derived[key]

    def shown(self, key: Key) -> bool:
        if key in self.cells:
            return not self.cells[key].suppressed
        return key not in self.hidden_derived

    def suppressed_keys(self) -> set[Key]:
        return {k for k, c in self.cells.items() if c.suppressed}


class Table:
    """Counts, the sums that link them and the values derived from them (module docstring)."""

    def __init__(self, policy: DisclosurePolicy | None = None) -> None:
        self.policy = policy or DisclosurePolicy()
        self._values: dict[Key, int] = {}
        self._costs: dict[Key, float] = {}
        self._relations: list[_Relation] = []
        self._derived: dict[Key, _Derived] = {}

    # building ------------------------------------------------------------------------------

    def count(self, key: Key, value: int, *, cost: float | None = None) -> Key:
        """A published count. ``cost``: what hiding it loses (default: the count itself)."""
        _check_count(value)
        if key in self._values or key in self._derived:
            raise ValueError(f"{key!r} is declared twice")
        self._values[key] = int(value)
        self._costs[key] = float(value if cost is None else cost)
        return key

    def total(self, key: Key, parts: Iterable[Key], *, cost: float | None = None) -> Key:
        """A published margin: the sum of ``parts``, which the reader knows it is."""
        parts = tuple(parts)
        self.count(key, sum(self._values[p] for p in parts), cost=cost)
        self._relations.append(_Relation(key, parts, True))
        return key

    def sums_to(self, total: Key, parts: Iterable[Key], *, complete: bool = True) -> None:
        """Tell the reader's model that ``total`` is the sum of ``parts`` (another table's
        breakdown of it); ``complete=False`` when the parts are only some of it (top reasons)."""
        parts = tuple(parts)
        exact = sum(self._values[p] for p in parts)
        if (exact != self._values[total]) if complete else (exact > self._values[total]):
            raise ValueError(f"the parts of {total!r} do not add up to it")
        self._relations.append(_Relation(total, parts, complete))

    def derived(self, key: Key, value: Any, *, depends_on: Iterable[Key],
                reveals: bool = True) -> Key:
        """A value computed from counts (or other derived values): shown only with them."""
        if key in self._values or key in self._derived:
            raise ValueError(f"{key!r} is declared twice")
        depends = tuple(depends_on)
        unknown = [d for d in depends if d not in self._values and d not in self._derived]
        if unknown:
            raise ValueError(f"{key!r} depends on undeclared {unknown!r}")
        self._derived[key] = _Derived(value, depends, reveals)
        return key

    def exact(self, key: Key) -> int:
        """The exact count (internal use: statistics are computed on exact counts)."""
        return self._values[key]

    # publishing ----------------------------------------------------------------------------

    def publish(self) -> Published:
        policy = self.policy
        if not policy.enabled:
            cells = {k: DisclosedCell(v, str(v), False) for k, v in self._values.items()}
            return Published(cells, self._derived_values(), frozenset(), policy)
        status = _Protector(self).protect()
        cells = {k: _cell(v, status.get(k), policy) for k, v in self._values.items()}
        hidden = frozenset(self._hidden_derived(status))
        return Published(cells, self._derived_values(), hidden, policy)

    def _derived_values(self) -> dict[Key, Any]:
        return {k: d.value for k, d in self._derived.items()}

    def _counts_behind(self, key: Key, seen: set[Key] | None = None) -> set[Key]:
        seen = set() if seen is None else seen
        counts: set[Key] = set()
        for dep in self._derived[key].depends_on:
            if dep in self._values:
                counts.add(dep)
            elif dep not in seen:
                seen.add(dep)
                counts |= self._counts_behind(dep, seen)
        return counts

    def _hidden_derived(self, status: Mapping[Key, str]) -> set[Key]:
        return {k for k in self._derived if any(c in status for c in self._counts_behind(k))}

    def _revealed_exactly(self, status: Mapping[Key, str]) -> set[Key]:
        """Counts a published ``reveals=True`` derived value gives away exactly."""
        revealed: set[Key] = set()
        for key, derived in self._derived.items():
            behind = self._counts_behind(key)
            if derived.reveals and not any(c in status for c in behind):
                revealed |= behind
        return revealed


def _cell(value: int, reason: str | None, policy: DisclosurePolicy) -> DisclosedCell:
    if reason == SMALL:
        return DisclosedCell(None, policy.small_symbol, True, reason)
    if reason == COMPLEMENTARY:
        return DisclosedCell(None, COMPLEMENTARY_SYMBOL, True, reason)
    rounded = policy.rounded(value)
    return DisclosedCell(rounded, f"{rounded:,}", False)


# --- the reader's linear programme and the choice of complements -------------------------


class _Protector:
    """Primary suppression, then complements until the LP attacker is held off."""

    def __init__(self, table: Table) -> None:
        self.table = table
        self.policy = table.policy
        self.values = table._values
        self.keys = list(self.values)
        self.index = {k: i for i, k in enumerate(self.keys)}
        self.components = _components(self.keys, table._relations)
        self.related = _neighbours(table._relations)
        self._baselines: dict[Key, tuple[float, float]] = {}

    def protect(self) -> dict[Key, str]:
        t = self.policy.threshold
        status = {k: SMALL for k, v in self.values.items() if 0 < v < t}
        sensitive = sorted(status, key=lambda k: self.index[k])
        while True:
            exact = self.table._revealed_exactly(status)
            unprotected = next((k for k in sensitive if not self._protected(k, status, exact)),
                               None)
            if unprotected is None:
                return status
            choice = self._complement_for(unprotected, status)
            if choice is None:  # nothing single helps: hide the whole component
                for k in self.components[unprotected]:
                    if self.values[k] > 0 and k not in status:
                        status[k] = COMPLEMENTARY
            else:
                status[choice] = COMPLEMENTARY

    # checks ---------------------------------------------------------------------------------

    def _protected(self, key: Key, status: Mapping[Key, str], exact: set[Key]) -> bool:
        """Whether the reader's interval for ``key`` is the whole protection interval.

        The interval always lies inside the baseline one (every non-zero count hidden,
        itself inside 1..threshold-1), so comparing widths is enough."""
        width = self.width(key, status, exact)
        if width >= self.policy.threshold - 2 - _TOLERANCE:
            return True
        if key not in self._baselines:
            everything = {k: (SMALL if 0 < v < self.policy.threshold else COMPLEMENTARY)
                          for k, v in self.values.items() if v > 0}
            self._baselines[key] = self.width(key, everything, set())
        return width >= self._baselines[key] - _TOLERANCE

    def _complement_for(self, key: Key, status: dict[Key, str]) -> Key | None:
        """The count to hide next for ``key``, cheapest first: one that protects it; else one
        that widens its interval most; else one that pairs up a line (a sum) with a single
        suppression in it, as classic suppression does; else any. None: nothing left."""
        candidates = [k for k in self.components[key] if self.values[k] > 0 and k not in status]
        candidates.sort(key=lambda k: (self.table._costs[k], self.index[k]))
        near = self.related.get(key, set())
        close = [k for k in candidates if k in near]
        choice = self._best_of(key, status, close)
        if choice is None:
            choice = self._pairing(key, status, candidates)
        if choice is None:
            choice = self._best_of(key, status, [k for k in candidates if k not in near])
        return choice if choice is not None else next(iter(candidates), None)

    def _best_of(self, key: Key, status: dict[Key, str], candidates: list[Key]) -> Key | None:
        before = self.width(key, status, self.table._revealed_exactly(status))
        best: tuple[float, Key] | None = None
        for candidate in candidates:
            trial = {**status, candidate: COMPLEMENTARY}
            exact = self.table._revealed_exactly(trial)
            if self._protected(key, trial, exact):
                return candidate
            gain = self.width(key, trial, exact) - before
            if gain > _TOLERANCE and (best is None or gain > best[0] + _TOLERANCE):
                best = (gain, candidate)
        return None if best is None else best[1]

    def _pairing(self, key: Key, status: dict[Key, str], candidates: list[Key]) -> Key | None:
        lone = [r for r in self.table._relations
                if sum(m in status for m in (r.total, *r.parts)) == 1
                and r.total in self.components[key]]
        lone.sort(key=lambda r: key not in (r.total, *r.parts))
        for relation in lone:
            members = {relation.total, *relation.parts}
            for candidate in candidates:  # already cheapest first
                if candidate in members:
                    return candidate
        return None

    # the LP ---------------------------------------------------------------------------------

    def bounds(self, key: Key, status: Mapping[Key, str], exact: set[Key]
               ) -> tuple[float, float | None]:
        value, policy = self.values[key], self.policy
        reason = status.get(key)
        if reason == SMALL:
            return 1, policy.threshold - 1
        if reason == COMPLEMENTARY:
            return policy.threshold, None
        if key in exact or value == 0:
            return value, value
        return policy.rounding_interval(policy.rounded(value))

    def width(self, key: Key, status: Mapping[Key, str], exact: set[Key]) -> float:
        """How wide an interval the reader can narrow ``key`` to (continuous relaxation).

        One LP over two independent copies of the reader's system, maximising the copies'
        difference in ``key``: max - min in one solve, half the calls of two."""
        members = self.components[key]
        size = len(members)
        if size == 1:  # a figure no sum links to anything: its own symbol is all there is
            low, high = self.bounds(key, status, exact)
            return math.inf if high is None else high - low
        local = {k: i for i, k in enumerate(members)}
        bounds = [self.bounds(k, status, exact) for k in members]
        equal, upper = [], []
        for relation in self.table._relations:
            if relation.total not in local:
                continue
            row = np.zeros(size)
            row[local[relation.total]] = -1.0
            for part in relation.parts:
                row[local[part]] += 1.0
            (equal if relation.complete else upper).append(row)
        objective = np.zeros(2 * size)
        objective[local[key]], objective[size + local[key]] = -1.0, 1.0
        result = linprog(
            objective, A_ub=_doubled(upper, size), b_ub=np.zeros(2 * len(upper)) if upper
            else None, A_eq=_doubled(equal, size), b_eq=np.zeros(2 * len(equal)) if equal
            else None, bounds=bounds + bounds, method="highs")
        if result.status == 3:  # unbounded
            return math.inf
        if result.status != 0:  # infeasible cannot happen with the true values; be safe
            return 0.0
        return -float(result.fun)


def _doubled(rows: list[np.ndarray], size: int) -> np.ndarray | None:
    if not rows:
        return None
    block = np.array(rows)
    zeros = np.zeros_like(block)
    return np.vstack([np.hstack([block, zeros]), np.hstack([zeros, block])])


def _components(keys: list[Key], relations: list[_Relation]) -> dict[Key, list[Key]]:
    parent = {k: k for k in keys}

    def root(k: Key) -> Key:
        while parent[k] != k:
            parent[k] = parent[parent[k]]
            k = parent[k]
        return k

    for relation in relations:
        for part in relation.parts:
            parent[root(part)] = root(relation.total)
    groups: dict[Key, list[Key]] = {}
    for k in keys:
        groups.setdefault(root(k), []).append(k)
    return {k: groups[root(k)] for k in keys}


def _neighbours(relations: list[_Relation]) -> dict[Key, set[Key]]:
    near: dict[Key, set[Key]] = {}
    for relation in relations:
        members = {relation.total, *relation.parts}
        for k in members:
            near.setdefault(k, set()).update(members - {k})
    return near


# --- the single-figure and rows x columns forms -------------------------------------------


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


def _check_count(value: int) -> None:
    if isinstance(value, bool) or int(value) != value or value < 0:
        raise ValueError(f"counts must be non-negative integers, got {value!r}")
