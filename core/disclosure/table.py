"""``Table``: counts, the sums a reader knows they obey, and the values derived from them."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from .policy import (
    COMPLEMENTARY,
    COMPLEMENTARY_SYMBOL,
    SMALL,
    DisclosedCell,
    DisclosurePolicy,
    Key,
    check_count,
)
from .protect import Protector


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
        self._latent: set[Key] = set()

    # building ------------------------------------------------------------------------------

    def count(self, key: Key, value: int, *, cost: float | None = None) -> Key:
        """A published count. ``cost``: what hiding it loses (default: the count itself)."""
        check_count(value)
        if key in self._values or key in self._derived:
            raise ValueError(f"{key!r} is declared twice")
        self._values[key] = int(value)
        self._costs[key] = float(value if cost is None else cost)
        return key

    def latent(self, key: Key, value: int) -> Key:
        """A count that is never published but that a reader can bound by arithmetic: the
        people in one published group and not in another, the non-events of a 2x2 table.
        The reader knows only that it is >= 0 and the sums it is in; when it is 1 to
        threshold-1 it is protected like a published small count (never narrowed below the
        whole range), and it is never itself a complement (there is nothing to hide)."""
        self.count(key, value)
        self._latent.add(key)
        return key

    def overlap(self, first: Key, second: Key, *, both: int) -> tuple[Key, Key, Key]:
        """Two published counts of overlapping groups (nested funnel stages, a stage and a
        subgroup): ``both`` are in each. Declares the three latent cells (both, only the
        first, only the second) and the two sums, so differencing the two published figures
        is an attack the table defends against."""
        a, b = self._values[first], self._values[second]
        if not 0 <= both <= min(a, b):
            raise ValueError(f"{both} cannot be in both {first!r} and {second!r}")
        cells = (self.latent(("overlap", first, second, "both"), both),
                 self.latent(("overlap", first, second, "first only"), a - both),
                 self.latent(("overlap", first, second, "second only"), b - both))
        self.sums_to(first, cells[:2])
        self.sums_to(second, (cells[0], cells[2]))
        return cells

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
            cells = {k: DisclosedCell(v, str(v), False) for k, v in self._values.items()
                     if k not in self._latent}
            return Published(cells, self._derived_values(), frozenset(), policy)
        status = Protector(self).protect()
        cells = {k: _cell(v, status.get(k), policy) for k, v in self._values.items()
                 if k not in self._latent}
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
