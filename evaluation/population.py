"""Population-level evidence: daily counts no person can be linked to, around the flights.

Helplines report contacts per day by referral source (``interventions.DailyAggregate``);
outcomes that quote only a campaign's referral code are rolled up per campaign and day
(``CampaignDailyOutcome``). An interrupted time series (``evaluation.stats.its``: segmented
Poisson, or negative binomial when overdispersed, with day-of-week terms and errors allowing
for day-to-day autocorrelation) asks whether the daily
count moved when the campaign's flights were on. Every daily count shown passes
``disclose_count``; the fitted and counterfactual curves are model outputs.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta

from django.db.models import Sum

from core.bounds import stored_day_range
from core.disclosure import DisclosedCell, DisclosurePolicy, Table
from core.vocabulary import OutcomeKind
from evaluation.models import CampaignDailyOutcome, DailyCell
from evaluation.stats import ItsResult, interrupted_time_series
from evaluation.stats.its import MIN_PRE_DAYS


@dataclass(frozen=True)
class PopulationView:
    kind: str
    source: str  # "helpline daily aggregates", "referral-code outcomes" or ""
    days: tuple[date, ...]
    counts: tuple[DisclosedCell, ...]
    campaign_on: tuple[bool, ...]
    its: ItsResult | None
    note: str


# (organisation=, kind=, start=, end=) -> {day: total}. Helplines' daily totals are rows of
# interventions (a higher layer): outreach/apps.py registers interventions' reader here, so
# evaluation never imports interventions.
PopulationSource = Callable[..., dict[date, int]]
POPULATION_SOURCES: list[PopulationSource] = []


def population_source_register(source: PopulationSource) -> None:
    if source not in POPULATION_SOURCES:
        POPULATION_SOURCES.append(source)


def population_series(*, organisation, kind: str, start: date, end: date) -> dict[date, int]:  # type: ignore[no-untyped-def]
    """Daily totals of ``kind`` reported by helplines for a programme (all referral sources).

    Summed over the registered sources (interventions' daily aggregates); empty without one.
    """
    totals: dict[date, int] = {}
    for source in POPULATION_SOURCES:
        for day, count in source(organisation=organisation, kind=kind, start=start,
                                 end=end).items():
            totals[day] = totals.get(day, 0) + count
    return totals


def referral_series(*, campaign, kind: str) -> dict[date, int]:  # type: ignore[no-untyped-def]
    first, last = stored_day_range()  # a day of year 1 BC cannot be read into Python
    rows = CampaignDailyOutcome.objects.filter(
        campaign=campaign, kind=kind, day__gte=first, day__lte=last).values("day") \
        .annotate(total=Sum("count"))
    return {row["day"]: int(row["total"]) for row in rows}


def flight_days(campaign, days: list[date]) -> list[bool]:  # type: ignore[no-untyped-def]
    """True on days inside any of the campaign's flights (UTC dates, ends inclusive)."""
    spans = [(f.starts_at.date(), (f.ends_at.date() if f.ends_at else date.max))
             for f in campaign.flights.all()]
    return [any(a <= d <= b for a, b in spans) for d in days]


def _window(campaign, series: dict[date, int]) -> list[date]:  # type: ignore[no-untyped-def]
    if not series:
        return []
    first, last = min(series), max(series)
    return [first + timedelta(days=i) for i in range((last - first).days + 1)]


def campaign_population(*, campaign, policy: DisclosurePolicy,  # type: ignore[no-untyped-def]
                        kind: str = OutcomeKind.HELPLINE_CONTACT,
                        lookback_days: int = 365) -> PopulationView:
    """The daily series around the campaign, disclosed, with an ITS fit when it is possible."""
    flights = list(campaign.flights.all())
    anchor = min((f.starts_at.date() for f in flights), default=date.today())
    start, end = anchor - timedelta(days=lookback_days), date.today()
    series = population_series(organisation=campaign.organisation, kind=kind, start=start,
                               end=end)
    source = "helpline daily aggregates"
    if not series:
        series, source = referral_series(campaign=campaign, kind=kind), "referral-code outcomes"
    days = _window(campaign, series)
    if not days:
        return PopulationView(kind, "", (), (), (), None, "No population-level counts yet.")
    values = [series.get(d, 0) for d in days]
    on = flight_days(campaign, days)
    if not any(on):
        # No flight covers the series (e.g. flights not entered): the days the campaign
        # actually exposed people are the "on" days.
        first, last = stored_day_range()
        exposed = set(DailyCell.objects.filter(campaign=campaign, exposures__gt=0,
                                               day__gte=first, day__lte=last)
                      .values_list("day", flat=True))
        on = [d in exposed for d in days]
    # The fit, its curves and its dispersion are functions of every daily count: published
    # only when every day is (core.disclosure: a derived value needs all its counts).
    table = Table(policy)
    for day, value in zip(days, values, strict=True):
        table.count(day, value)
    table.derived("its", None, depends_on=days)
    published = table.publish()
    shown = tuple(published[day] for day in days)
    if not published.shown("its"):
        return PopulationView(kind, source, tuple(days), shown, tuple(on), None,
                              "The time series is not fitted in public: a daily count is "
                              "suppressed, and the fit would give it back.")
    its, note = _fit(values, on)
    return PopulationView(kind, source, tuple(days), shown, tuple(on), its, note)


def _fit(values: list[int], on: list[bool]) -> tuple[ItsResult | None, str]:
    pre = next((i for i, flag in enumerate(on) if flag), len(on))
    if pre < MIN_PRE_DAYS:
        return None, f"An interrupted time series needs at least {MIN_PRE_DAYS} days before " \
                     "the first flight (to estimate the weekday pattern and the day-to-day " \
                     "autocorrelation)."
    if all(on[pre:]) and pre == len(on):
        return None, "No flight falls inside the series yet."
    try:
        its = interrupted_time_series(values, on, slope_change=False)
    except (ValueError, ArithmeticError, IndexError) as error:
        return None, f"The time series model could not be fitted: {error}"
    return its, its.note
