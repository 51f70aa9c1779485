"""The reader doing arithmetic: attack published tables with linear programming.

The attacker sees only what is published (display strings) and knows the rules: "<10" is
1..9, "[c]" is at least 10 (zeros are never complements), a rounded figure is within half a
rounding base of the truth, margins are sums. For each suppressed small cell it solves the
smallest and largest value the cell can take. No cell may be narrowed below its protection
interval: the whole 1..9, or what the symbols alone already allow.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.optimize import linprog

from core.disclosure import CountTable, DisclosurePolicy, Table, disclose

POLICIES = [DisclosurePolicy(), DisclosurePolicy(rounding_base=1),
            DisclosurePolicy(threshold=5, rounding_base=10)]


def attacker_bounds(display: str, policy: DisclosurePolicy) -> tuple[float, float | None]:
    """What a published display string tells the reader about the true count."""
    t, base = policy.threshold, policy.rounding_base
    if display == f"<{t}":
        return 1, t - 1
    if display == "[c]":
        return t, None
    shown = int(display.replace(",", ""))
    if shown == 0:
        return 0, 0
    low = shown - base // 2
    return max(low, t, 1), low + base - 1


def cell_range(keys: list, bounds: list, sums: list[tuple[object, list[object]]],
               key) -> tuple[float, float]:  # type: ignore[no-untyped-def]
    """The least and greatest value ``key`` can take: each cell within its bounds, each total
    the sum of its parts (linear programming, HiGHS)."""
    index = {k: i for i, k in enumerate(keys)}
    rows = []
    for total, parts in sums:
        row = np.zeros(len(keys))
        row[index[total]] -= 1
        for part in parts:
            row[index[part]] += 1
        rows.append(row)
    ends = []
    for sign in (1, -1):
        c = np.zeros(len(keys))
        c[index[key]] = sign
        result = linprog(c, A_eq=np.array(rows) if rows else None,
                         b_eq=np.zeros(len(rows)) if rows else None, bounds=bounds,
                         method="highs")
        assert result.status in (0, 3), "the published table is inconsistent"
        ends.append(math.inf if result.status == 3 else sign * result.fun)
    return ends[0], ends[1]


def attack(displays: dict, sums: list[tuple[object, list[object]]],
           policy: DisclosurePolicy) -> dict[object, tuple[float, float]]:
    """The interval of every hidden small cell, solved from published strings only."""
    keys = list(displays)
    bounds = [attacker_bounds(displays[k], policy) for k in keys]
    return {key: cell_range(keys, bounds, sums, key) for key in keys
            if displays[key] == policy.small_symbol}


def symbols_only(values: dict, sums, policy: DisclosurePolicy, key) -> tuple[float, float]:
    """The interval when every non-zero count is hidden: the most any suppression gives."""
    t = policy.threshold
    displays = {k: ("0" if v == 0 else policy.small_symbol if v < t else "[c]")
                for k, v in values.items()}
    return attack(displays, sums, policy)[key]


def grid(values: tuple[tuple[int, ...], ...]):  # type: ignore[no-untyped-def]
    rows, columns = len(values), len(values[0])
    exact = {(i, j): values[i][j] for i in range(rows) for j in range(columns)}
    sums = []
    for i in range(rows):
        exact[(i, columns)] = sum(values[i])
        sums.append(((i, columns), [(i, j) for j in range(columns)]))
    for j in range(columns + 1):
        exact[(rows, j)] = sum(exact[(i, j)] for i in range(rows))
        sums.append(((rows, j), [(i, j) for i in range(rows)]))
    return exact, sums


def published_grid(values, policy):  # type: ignore[no-untyped-def]
    shown = disclose(CountTable(tuple(f"r{i}" for i in range(len(values))),
                                tuple(f"c{j}" for j in range(len(values[0]))), values),
                     policy=policy)
    rows, columns = len(values), len(values[0])
    displays = {}
    for i in range(rows):
        for j in range(columns):
            displays[(i, j)] = shown.cells[i][j].display
        displays[(i, columns)] = shown.row_totals[i].display
    for j in range(columns):
        displays[(rows, j)] = shown.column_totals[j].display
    displays[(rows, columns)] = shown.grand_total.display
    return displays


def assert_protected(values: dict, sums, displays: dict, policy: DisclosurePolicy) -> None:
    t = policy.threshold
    for key, (low, high) in attack(displays, sums, policy).items():
        if low <= 1 + 1e-6 and high >= t - 1 - 1e-6:
            continue
        base_low, base_high = symbols_only(values, sums, policy, key)
        assert low <= base_low + 1e-6 and high >= base_high - 1e-6, (
            f"{key}={values[key]} narrowed to [{low}, {high}] (protection "
            f"[{base_low}, {base_high}]) from {displays}")


counts = st.one_of(st.just(0), st.integers(1, 9), st.integers(10, 60), st.integers(61, 3000))


@st.composite
def tables(draw: st.DrawFn) -> tuple[tuple[int, ...], ...]:
    rows, columns = draw(st.integers(1, 4)), draw(st.integers(1, 4))
    return tuple(tuple(draw(counts) for _ in range(columns)) for _ in range(rows))


@pytest.mark.parametrize("policy", POLICIES, ids=["default", "unrounded", "t5-base10"])
@settings(max_examples=60, deadline=None)
@given(values=tables())
def test_the_lp_attacker_narrows_no_small_cell_of_a_generated_table(
    policy: DisclosurePolicy, values: tuple[tuple[int, ...], ...],
) -> None:
    exact, sums = grid(values)
    assert_protected(exact, sums, published_grid(values, policy), policy)


def test_two_small_cells_beside_an_exact_row_total_are_not_recovered() -> None:
    # The example: with exact margins, two "<10" cells and their total give a range.
    policy = DisclosurePolicy(rounding_base=1)
    values = ((4, 5, 300), (40, 50, 60))
    exact, sums = grid(values)
    displays = published_grid(values, policy)
    assert displays[(0, 0)] == displays[(0, 1)] == "<10"
    assert_protected(exact, sums, displays, policy)


def test_a_nine_beside_rounded_margins_gets_a_complement() -> None:
    # 9 + 40 = 49 is published as 50 beside 40: the reader learns the cell is 6..9.
    policy = DisclosurePolicy()
    values = ((9, 40), (100, 200))
    exact, sums = grid(values)
    displays = published_grid(values, policy)
    assert "[c]" in displays.values()
    assert_protected(exact, sums, displays, policy)


def test_a_three_beside_rounded_margins_needs_no_complement() -> None:
    # 3 + 40 = 43 is published as 45 beside 40: the reader can only say 1..9.
    values = ((3, 40), (100, 200))
    displays = published_grid(values, DisclosurePolicy())
    assert "[c]" not in displays.values()


def test_a_derived_value_makes_its_counts_exact_for_the_reader() -> None:
    # A rate beside each arm gives the arms' counts away: the margin must go, not an arm.
    table = Table()
    for arm, n in (("a", 150), ("b", 3), ("c", 200)):
        table.count(arm, n, cost=1_000)
        table.derived(("rate", arm), n / 1000, depends_on=[arm])
    table.total("all", ["a", "b", "c"], cost=1)
    table.derived(("rate", "all"), 353 / 3000, depends_on=["all"])
    shown = table.publish()
    assert shown["b"].display == "<10"
    assert shown["all"].display == "[c]"
    assert not shown["a"].suppressed and not shown["c"].suppressed
    assert shown.value(("rate", "b")) is None and shown.value(("rate", "all")) is None
    assert shown.value(("rate", "a")) == pytest.approx(0.15)
