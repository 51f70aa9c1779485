"""Overlapping published counts: differencing two groups that share people.

Two published counts of overlapping groups (a funnel stage and the next, people with an
outcome and people exposed) give the reader their difference: the people in one and not the
other. ``Table.overlap`` / ``Table.latent`` declare those never-published cells; the attacker
here knows the structure, sees only the published strings and solves each latent cell's
range by linear programming. A small latent cell may never be narrowed below 1..9 (or what
the symbols alone allow).
"""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from core.disclosure import DisclosurePolicy, Table
from tests.test_disclosure_attacks import attacker_bounds, cell_range

EXACT = DisclosurePolicy(rounding_base=1)


def solve(displays: dict, latent: list, sums: list, policy: DisclosurePolicy, key,
          zeros: frozenset = frozenset()) -> tuple:
    """The least and greatest value of ``key``: published strings, latent >= 0, sums. The
    attacker may also know which latent cells are empty (``zeros``: "nobody left")."""
    keys = [*displays, *latent]
    bounds = [attacker_bounds(displays[k], policy) for k in displays] + [
        (0, 0) if k in zeros else (0, None) for k in latent]
    return cell_range(keys, bounds, sums, key)


def funnel(stages: list[list[int]], policy: DisclosurePolicy):  # type: ignore[no-untyped-def]
    """Nested stages per arm: stages[s][a] people reached stage s in arm a (non-increasing),
    each stage with its total over the arms; consecutive stages overlap (nested)."""
    table = Table(policy)
    arms = range(len(stages[0]))
    sums, latent = [], []
    for s, row in enumerate(stages):
        for a in arms:
            table.count((s, a), row[a])
        table.total((s, "all"), [(s, a) for a in arms])
        sums.append(((s, "all"), [(s, a) for a in arms]))
    for s in range(1, len(stages)):
        for a in arms:
            both, first_only, second_only = table.overlap((s - 1, a), (s, a), both=stages[s][a])
            latent += [both, first_only, second_only]
            sums += [((s - 1, a), [both, first_only]), ((s, a), [both, second_only])]
    shown = table.publish()
    return table, {k: c.display for k, c in shown.cells.items()}, latent, sums


def check(stages: list[list[int]], policy: DisclosurePolicy) -> None:
    table, displays, latent, sums = funnel(stages, policy)
    t = policy.threshold
    assert not any(k in displays for k in latent), "a latent cell was published"
    zeros = frozenset(k for k in latent if table.exact(k) == 0)
    for key in latent:
        value = table.exact(key)
        if not 0 < value < t:
            continue
        low, high = solve(displays, latent, sums, policy, key, zeros)
        if low <= 1 + 1e-6 and high >= t - 1 - 1e-6:
            continue
        hidden = {k: ("0" if table.exact(k) == 0 else policy.small_symbol
                      if table.exact(k) < t else "[c]") for k in displays}
        base_low, base_high = solve(hidden, latent, sums, policy, key, zeros)
        assert low <= max(1, base_low) + 1e-6 and high >= min(t - 1, base_high) - 1e-6, (
            key, value, (low, high), displays)


def test_a_drop_off_of_three_cannot_be_read_from_two_exact_stages() -> None:
    # 30 enrolled, 27 started: published exactly, the difference would say "3 left".
    _, displays, latent, sums = funnel([[30, 40], [27, 40]], EXACT)
    assert displays[(1, 0)] == "[c]" or displays[(0, 0)] == "[c]"
    drop = ("overlap", (0, 0), (1, 0), "first only")
    low, high = solve(displays, latent, sums, EXACT, drop)
    assert low <= 1 and high >= 9


def test_rounding_alone_already_protects_a_drop_off_when_it_leaves_the_whole_range() -> None:
    _, displays, latent, sums = funnel([[30, 40], [27, 40]], DisclosurePolicy())
    low, high = solve(displays, latent, sums, DisclosurePolicy(),
                      ("overlap", (0, 0), (1, 0), "first only"))
    assert low <= 1 and high >= 9


@settings(max_examples=80, deadline=None)
@given(st.lists(st.integers(0, 60), min_size=2, max_size=3),
       st.lists(st.lists(st.integers(0, 12), min_size=3, max_size=3), min_size=1, max_size=3),
       st.sampled_from([EXACT, DisclosurePolicy(), DisclosurePolicy(threshold=5, rounding_base=3)]))
def test_no_overlap_cell_of_a_generated_funnel_is_narrowed(first, drops, policy) -> None:  # type: ignore[no-untyped-def]
    stages = [first]
    for drop in drops:
        stages.append([max(0, v - d) for v, d in zip(stages[-1], drop, strict=False)])
    check(stages, policy)
