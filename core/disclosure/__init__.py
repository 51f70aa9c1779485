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

from .grid import (
    CountTable,
    DisclosedTable,
    disclose,
    disclose_count,
    grid_table,
    suppression_pattern,
)
from .policy import (
    COMPLEMENTARY,
    COMPLEMENTARY_SYMBOL,
    SMALL,
    DisclosedCell,
    DisclosurePolicy,
)
from .table import Published, Table

__all__ = [
    "COMPLEMENTARY",
    "COMPLEMENTARY_SYMBOL",
    "SMALL",
    "CountTable",
    "DisclosedCell",
    "DisclosedTable",
    "DisclosurePolicy",
    "Published",
    "Table",
    "disclose",
    "disclose_count",
    "grid_table",
    "suppression_pattern",
]
