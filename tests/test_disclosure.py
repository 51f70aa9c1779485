"""Disclosure control: every count that leaves the system passes through `disclose`."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core.disclosure import (
    CountTable,
    DisclosedTable,
    DisclosurePolicy,
    disclose,
    disclose_count,
)

# Rounding to 5 already hides a small cell beside rounded margins (the reader knows each
# rounded figure only to +-2), so the structural tests of complementary suppression use an
# unrounded policy: the reader then knows every published figure exactly, the old worst case.
EXACT = DisclosurePolicy(rounding_base=1)


def table(*rows: tuple[int, ...]) -> CountTable:
    return CountTable(
        tuple(f"r{i}" for i in range(len(rows))),
        tuple(f"c{j}" for j in range(len(rows[0]))),
        rows,
    )


def grid_with_margins(values: tuple[tuple[int, ...], ...]) -> list[list[int]]:
    rows = [[*row, sum(row)] for row in values]
    return [*rows, [sum(col) for col in zip(*rows, strict=True)]]


def suppressed_positions(disclosed: DisclosedTable) -> set[tuple[int, int]]:
    cells = [[*row, total] for row, total in zip(disclosed.cells, disclosed.row_totals,
                                                 strict=True)]
    cells.append([*disclosed.column_totals, disclosed.grand_total])
    return {(i, j) for i, row in enumerate(cells) for j, c in enumerate(row) if c.suppressed}


# --- single figures ---------------------------------------------------------------------

@pytest.mark.parametrize("n", range(1, 10))
def test_a_count_below_ten_is_shown_as_less_than_ten(n: int) -> None:
    cell = disclose_count(n)
    assert (cell.display, cell.value, cell.suppressed, cell.reason) == ("<10", None, True, "small")


def test_a_true_zero_is_shown_as_zero() -> None:
    cell = disclose_count(0)
    assert (cell.display, cell.value, cell.suppressed) == ("0", 0, False)


@pytest.mark.parametrize(("n", "shown"), [(10, 10), (12, 10), (13, 15), (17, 15), (1_656, 1_655),
                                          (1_658, 1_660)])
def test_counts_from_ten_up_are_rounded_to_the_nearest_five(n: int, shown: int) -> None:
    cell = disclose_count(n)
    assert (cell.value, cell.suppressed) == (shown, False)


def test_large_figures_are_displayed_with_thousands_separators() -> None:
    assert disclose_count(2_800_000).display == "2,800,000"


def test_a_custom_policy_changes_threshold_and_base() -> None:
    policy = DisclosurePolicy(threshold=5, rounding_base=10)
    assert disclose_count(4, policy).display == "<5"
    assert disclose_count(5, policy).value == 10  # rounding never shows a non-zero as 0
    assert disclose_count(26, policy).value == 30


def test_a_disabled_policy_shows_exact_counts() -> None:
    policy = DisclosurePolicy(enabled=False)
    assert disclose_count(3, policy).display == "3"
    assert disclose(table((3, 40)), policy=policy).cells[0][0].value == 3


def test_a_disabled_policy_is_refused_in_production() -> None:
    with pytest.raises(ValueError, match="production"):
        DisclosurePolicy(enabled=False).validate(production=True)


def test_an_enabled_policy_is_accepted_in_production_and_a_disabled_one_outside_it() -> None:
    DisclosurePolicy().validate(production=True)
    DisclosurePolicy(enabled=False).validate(production=False)


@pytest.mark.parametrize("kwargs", [{"threshold": 0}, {"rounding_base": 0}])
def test_a_policy_with_nonsense_numbers_is_refused(kwargs: dict[str, int]) -> None:
    with pytest.raises(ValueError):
        DisclosurePolicy(**kwargs)


def test_negative_counts_are_refused() -> None:
    with pytest.raises(ValueError):
        disclose_count(-1)
    with pytest.raises(ValueError):
        table((1, -2))


# --- tables -----------------------------------------------------------------------------

def test_a_row_with_one_small_cell_gets_a_second_cell_suppressed() -> None:
    disclosed = disclose(table((3, 40, 120), (50, 60, 70)), policy=EXACT)
    row = disclosed.cells[0]
    assert row[0].display == "<10"
    assert row[1].suppressed and row[1].reason == "complementary"  # the next smallest
    assert row[1].display == "[c]"
    assert not row[2].suppressed


def test_row_and_column_totals_cannot_reveal_the_small_cell() -> None:
    disclosed = disclose(table((3, 40, 120), (50, 60, 70)), policy=EXACT)
    first_column = [row[0] for row in disclosed.cells]
    assert sum(c.suppressed for c in first_column) >= 2


def test_totals_are_rounded_from_exact_values_not_summed_from_rounded_cells() -> None:
    disclosed = disclose(table((12, 12, 12)))
    assert [c.value for c in disclosed.cells[0]] == [10, 10, 10]
    assert disclosed.row_totals[0].value == 35  # 36 rounded, not 10 + 10 + 10


def test_a_total_is_suppressed_when_it_would_reveal_a_suppressed_cell() -> None:
    # The only other cell in the row is zero, so only the total can protect the 3.
    disclosed = disclose(table((3, 0), (40, 50)), policy=EXACT)
    assert disclosed.cells[0][0].suppressed
    assert disclosed.row_totals[0].suppressed


def test_zeros_stay_visible_next_to_suppressed_cells() -> None:
    disclosed = disclose(table((3, 0, 40), (20, 30, 50)))
    assert disclosed.cells[0][1].display == "0"


def test_a_table_without_small_cells_is_only_rounded() -> None:
    disclosed = disclose(table((10, 21), (33, 44)))
    assert not suppressed_positions(disclosed)
    assert disclosed.grand_total.value == 110


def test_two_protected_blocks_joined_by_one_small_cell_get_a_cycle_closed() -> None:
    # Two blocks of small cells, each protected on its own, joined only by the 5 at (0, 2).
    # Every line has two or more suppressions, yet the 5 is still derivable: the row
    # equations of the first block minus its column equations leave it alone.
    values = ((3, 4, 5, 50), (6, 7, 60, 70), (80, 90, 3, 4), (95, 85, 6, 7))
    disclosed = disclose(table(*values), policy=EXACT)
    assert_no_suppressed_value_is_derivable(disclosed, values)


def test_display_rows_are_ready_for_a_csv_writer() -> None:
    rows = disclose(table((3, 40, 120), (50, 60, 70))).display_rows()
    assert rows[0] == ["", "c0", "c1", "c2", "Total"]
    assert rows[1][:2] == ["r0", "<10"]
    assert rows[-1][0] == "Total"


def test_cells_can_be_looked_up_by_label() -> None:
    disclosed = disclose(table((3, 40), (50, 60)))
    assert disclosed.cell("r0", "c0").display == "<10"


# --- properties over random tables -----------------------------------------------------

def assert_no_suppressed_value_is_derivable(
    disclosed: DisclosedTable, values: tuple[tuple[int, ...], ...]
) -> None:
    grid = grid_with_margins(values)
    hidden = sorted(suppressed_positions(disclosed))
    assert_no_line_has_a_single_suppression(grid, hidden)
    assert_no_linear_combination_isolates_a_suppression(grid, hidden)


def assert_no_line_has_a_single_suppression(grid: list[list[int]], hidden: list) -> None:
    # The attacker knows every published value exactly; a line (row or column, with its
    # total) with one unknown gives a small value away by subtraction. (A complementary
    # value alone in a line is known too, which only wastes it: it is not sensitive.)
    hidden_set = set(hidden)
    rows, cols = len(grid), len(grid[0])
    for i in range(rows):
        line = [(i, j) for j in range(cols) if (i, j) in hidden_set]
        assert not (len(line) == 1 and 0 < grid[i][line[0][1]] < 10), f"row {i} leaks"
    for j in range(cols):
        line = [(i, j) for i in range(rows) if (i, j) in hidden_set]
        assert not (len(line) == 1 and 0 < grid[line[0][0]][j] < 10), f"column {j} leaks"


def assert_no_linear_combination_isolates_a_suppression(grid: list[list[int]],
                                                        hidden: list) -> None:
    # Stronger: no combination of all the line equations pins a suppressed value down.
    # A value is determined exactly when its unit vector lies in the row space of the
    # constraint matrix restricted to the unknowns.
    if not hidden:
        return
    rows, cols = len(grid), len(grid[0])
    index = {p: k for k, p in enumerate(hidden)}
    equations = []
    for i in range(rows):
        equations.append([(i, j, -1 if j == cols - 1 else 1) for j in range(cols)])
    for j in range(cols):
        equations.append([(i, j, -1 if i == rows - 1 else 1) for i in range(rows)])
    matrix = np.zeros((len(equations), len(hidden)))
    for e, terms in enumerate(equations):
        for i, j, sign in terms:
            if (i, j) in index:
                matrix[e, index[(i, j)]] = sign
    rank = np.linalg.matrix_rank(matrix)
    for k, position in enumerate(hidden):
        if not 0 < grid[position[0]][position[1]] < 10:
            continue  # a complementary value: not sensitive
        unit = np.zeros(len(hidden))
        unit[k] = 1
        assert np.linalg.matrix_rank(np.vstack([matrix, unit])) > rank, f"{position} leaks"


counts = st.one_of(st.just(0), st.integers(1, 9), st.integers(10, 500))
shapes = st.tuples(st.integers(1, 5), st.integers(1, 5))


@st.composite
def random_tables(draw: st.DrawFn) -> tuple[tuple[int, ...], ...]:
    rows, cols = draw(shapes)
    return tuple(tuple(draw(counts) for _ in range(cols)) for _ in range(rows))


@settings(max_examples=120, deadline=None)
@given(random_tables())
def test_no_suppressed_cell_can_be_derived_from_totals_in_random_tables(
    values: tuple[tuple[int, ...], ...],
) -> None:
    assert_no_suppressed_value_is_derivable(disclose(table(*values), policy=EXACT), values)


@settings(max_examples=120, deadline=None)
@given(random_tables())
def test_every_small_value_is_suppressed_and_every_shown_value_is_rounded(
    values: tuple[tuple[int, ...], ...],
) -> None:
    disclosed = disclose(table(*values))
    grid = grid_with_margins(values)
    hidden = suppressed_positions(disclosed)
    shown = [[*row, total] for row, total in zip(disclosed.cells, disclosed.row_totals,
                                                 strict=True)]
    shown.append([*disclosed.column_totals, disclosed.grand_total])
    for i, row in enumerate(grid):
        for j, value in enumerate(row):
            cell = shown[i][j]
            if 0 < value < 10:
                assert (i, j) in hidden
            if not cell.suppressed:
                assert cell.value is not None and cell.value % 5 == 0
                assert (cell.value == 0) == (value == 0)
                assert abs(cell.value - value) <= 2
