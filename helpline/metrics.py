"""Helpline metrics for managers: offered, answered, abandoned, wait and duration, per day, by
caller type and by campaign. Every figure leaves through one ``core.disclosure.Table``.

Definitions (one conversation = one row of ``Conversation``; purged rows keep their timestamps
and state, so retention does not change the history):

- offered: conversations that entered the queue on that day (a closed or full helpline
  creates none; those are answered at the door and never counted);
- answered: of those, the ones a counsellor claimed; abandoned: the ones that left the queue
  before anyone answered (closed the page, quick exit, or the page went silent);
  answered + abandoned <= offered (the rest are still waiting);
- wait: created -> answered, for answered conversations (p50 and p90, minutes);
- duration: answered -> ended, for ended ones (median, minutes);
- caller type: the counsellor's contact record when there is one, else the person's own
  pre-chat answer;
- campaign: the attributed campaign (signed link or referral code), else "No campaign".

The three breakdowns share their totals, so they are one table for the disclosure LP: a reader
differencing the days against the caller types learns nothing the symbols do not say. Wait and
duration figures are derived values depending on the answered count of their row: hidden with
it. They do not reveal the count (``reveals=False``), but a percentile of a suppressed group
could still describe one person, which is why they go with it.
"""

from __future__ import annotations

import csv
import io
import math
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from django.utils import timezone

from campaigns.models import Campaign
from core.disclosure import DisclosedCell, DisclosurePolicy, Published, Table
from helpline.models import CallerType, Conversation, ConversationState, Helpline

MEASURES = ("offered", "answered", "abandoned")
MAX_DAYS = 92
NO_CAMPAIGN = 0


@dataclass(frozen=True)
class Row:
    label: str
    cells: dict[str, DisclosedCell]  # measure -> disclosed count
    wait_p50: float | None = None  # minutes; None when hidden or no data
    wait_p90: float | None = None
    duration_p50: float | None = None


@dataclass
class Metrics:
    helpline: Helpline
    start: date
    end: date  # inclusive
    policy: DisclosurePolicy
    days: list[Row] = field(default_factory=list)
    caller_types: list[Row] = field(default_factory=list)
    campaigns: list[Row] = field(default_factory=list)
    total: Row | None = None


@dataclass
class _Group:
    counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(MEASURES, 0))
    waits: list[float] = field(default_factory=list)
    durations: list[float] = field(default_factory=list)

    def add(self, conversation: _Conv) -> None:
        self.counts["offered"] += 1
        if conversation.answered_at is not None:
            self.counts["answered"] += 1
            self.waits.append(_minutes(conversation.answered_at - conversation.created_at))
            if conversation.ended_at is not None:
                self.durations.append(_minutes(conversation.ended_at - conversation.answered_at))
        elif conversation.state == ConversationState.ABANDONED:
            self.counts["abandoned"] += 1


@dataclass(frozen=True)
class _Conv:
    created_at: datetime
    answered_at: datetime | None
    ended_at: datetime | None
    state: str
    caller_type: str
    campaign_id: int


def _minutes(delta: timedelta) -> float:
    return max(0.0, delta.total_seconds() / 60)


def percentile(values: list[float], q: float) -> float | None:
    """Nearest-rank percentile (q in 0..100): an observed value, never an interpolation."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return round(ordered[rank - 1], 1)


def period(*, days: int = 28, end: date | None = None) -> tuple[date, date]:
    days = max(1, min(int(days), MAX_DAYS))
    end = end or timezone.localdate()
    return end - timedelta(days=days - 1), end


def _conversations(helpline: Helpline, start: date, end: date) -> list[_Conv]:
    tz = timezone.get_current_timezone()
    since = datetime.combine(start, datetime.min.time(), tzinfo=tz)
    until = datetime.combine(end + timedelta(days=1), datetime.min.time(), tzinfo=tz)
    rows = (Conversation.objects
            .filter(helpline=helpline, created_at__gte=since, created_at__lt=until)
            .values_list("created_at", "answered_at", "ended_at", "state", "caller_type",
                         "campaign_id", "contact_record__caller_type"))
    return [_Conv(created, answered, ended, state, recorded or caller, campaign or NO_CAMPAIGN)
            for created, answered, ended, state, caller, campaign, recorded in rows]


def helpline_metrics(*, helpline: Helpline, policy: DisclosurePolicy, start: date,
                     end: date) -> Metrics:
    conversations = _conversations(helpline, start, end)
    day_list = [start + timedelta(days=i) for i in range((end - start).days + 1)]
    by_day: dict[date, _Group] = {d: _Group() for d in day_list}
    by_caller: dict[str, _Group] = defaultdict(_Group)
    by_campaign: dict[int, _Group] = defaultdict(_Group)
    everything = _Group()
    for conversation in conversations:
        by_day[timezone.localtime(conversation.created_at).date()].add(conversation)
        by_caller[conversation.caller_type].add(conversation)
        by_campaign[conversation.campaign_id].add(conversation)
        everything.add(conversation)

    callers = [c for c in CallerType.values if c in by_caller]
    names = dict(Campaign.objects.filter(pk__in=[k for k in by_campaign if k])
                 .values_list("pk", "name"))
    campaign_keys = sorted(by_campaign, key=lambda k: (k == NO_CAMPAIGN, names.get(k, "")))

    table = Table(policy)
    for group_name, groups in (("day", {d: by_day[d] for d in day_list}),
                               ("caller", {c: by_caller[c] for c in callers}),
                               ("campaign", {k: by_campaign[k] for k in campaign_keys})):
        for key, group in groups.items():
            for measure in MEASURES:
                table.count((group_name, key, measure), group.counts[measure])
            # The reader knows answered + abandoned <= offered (the rest are still waiting).
            table.sums_to((group_name, key, "offered"),
                          [(group_name, key, "answered"), (group_name, key, "abandoned")],
                          complete=False)
            _declare_times(table, (group_name, key), group)
    for measure in MEASURES:
        table.total(("all", measure), [("day", d, measure) for d in day_list])
        table.sums_to(("all", measure), [("caller", c, measure) for c in callers])
        table.sums_to(("all", measure), [("campaign", k, measure) for k in campaign_keys])
    table.sums_to(("all", "offered"), [("all", "answered"), ("all", "abandoned")],
                  complete=False)
    _declare_times(table, ("all",), everything)
    shown = table.publish()

    caller_labels = dict(CallerType.choices)
    return Metrics(
        helpline=helpline, start=start, end=end, policy=policy,
        days=[_row(shown, ("day", d), d.isoformat()) for d in day_list],
        caller_types=[_row(shown, ("caller", c), str(caller_labels[c])) for c in callers],
        campaigns=[_row(shown, ("campaign", k), names.get(k, "No campaign") if k
                        else "No campaign") for k in campaign_keys],
        total=_row(shown, ("all",), "All"))


def _declare_times(table: Table, prefix: tuple, group: _Group) -> None:
    answered = (*prefix, "answered")
    table.derived((*prefix, "wait_p50"), percentile(group.waits, 50), depends_on=[answered],
                  reveals=False)
    table.derived((*prefix, "wait_p90"), percentile(group.waits, 90), depends_on=[answered],
                  reveals=False)
    table.derived((*prefix, "duration_p50"), percentile(group.durations, 50),
                  depends_on=[answered], reveals=False)


def _row(shown: Published, prefix: tuple, label: str) -> Row:
    return Row(label=label, cells={m: shown[(*prefix, m)] for m in MEASURES},
               wait_p50=shown.value((*prefix, "wait_p50")),
               wait_p90=shown.value((*prefix, "wait_p90")),
               duration_p50=shown.value((*prefix, "duration_p50")))


# --- CSV ---------------------------------------------------------------------------------------

CSV_HEADER = ["section", "label", *MEASURES, "wait_p50_minutes", "wait_p90_minutes",
              "duration_p50_minutes"]


def metrics_csv(metrics: Metrics) -> str:
    """Display strings only (rounded, "<10", "[c]"): the CSV shows what the page shows."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(CSV_HEADER)
    sections = (("day", metrics.days), ("caller_type", metrics.caller_types),
                ("campaign", metrics.campaigns),
                ("total", [metrics.total] if metrics.total else []))
    for section, rows in sections:
        for row in rows:
            writer.writerow([section, _cell_text(row.label),
                             *(row.cells[m].display for m in MEASURES),
                             *("" if v is None else v for v in
                               (row.wait_p50, row.wait_p90, row.duration_p50))])
    return buffer.getvalue()


def _cell_text(text: str) -> str:
    """A campaign name that starts like a formula is not one in a spreadsheet."""
    return f"'{text}" if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text
