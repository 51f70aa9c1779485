"""Helplines' daily aggregate counts: (day, kind, referral source) -> count, upserted."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from django.db import transaction
from django.utils import timezone

from core.bounds import EXISTENCE_TOLERANCE, day_problem
from core.errors import InvalidInput, PayloadTooLarge
from interventions.models import DailyAggregate
from interventions.outcomes import REPORTABLE_KIND_VALUES
from interventions.selectors import Owner, campaigns_by_referral_code
from organisations.models import Organisation, Partnership
from organisations.services import Actor, audit_record

MAX_AGGREGATE_ROWS = 1_000


# --- daily aggregates --------------------------------------------------------------------------

@dataclass(frozen=True)
class AggregateRow:
    day: date
    kind: str
    referral_source: str
    count: int


@dataclass
class AggregateReport:
    received: int = 0
    created: int = 0
    updated: int = 0
    linked_to_campaigns: int = 0


@transaction.atomic
def daily_aggregates_report(*, reporter: Organisation, rows: list[AggregateRow], actor: Actor,
                            at: datetime | None = None) -> AggregateReport:
    """Upsert a helpline's daily counts; a re-sent (day, kind, source) replaces its count.

    A source equal to a referral code of a campaign the reporter works with links the row to
    that campaign and its programme; other sources are kept as the helpline's own labels under
    its programme (the only one it partners with, or itself).
    """
    at = at or timezone.now()
    if len(rows) > MAX_AGGREGATE_ROWS:
        raise PayloadTooLarge(f"At most {MAX_AGGREGATE_ROWS} rows per report.")
    _check_days(rows, at=at)
    campaigns = campaigns_by_referral_code(reporter=reporter,
                                           codes={r.referral_source for r in rows})
    _check_linked_days(rows, campaigns)
    home = _home_programme(reporter)
    existing = set(DailyAggregate.objects.filter(
        reported_by=reporter, day__in={r.day for r in rows}).values_list(
        "day", "kind", "referral_source"))
    report = AggregateReport(received=len(rows))
    objects = {}
    for row in rows:
        found = campaigns.get(row.referral_source.upper())
        report.linked_to_campaigns += found is not None
        key = (row.day, row.kind, row.referral_source)
        objects[key] = DailyAggregate(
            organisation_id=found[0] if found else home, reported_by=reporter, day=row.day,
            kind=row.kind, referral_source=row.referral_source,
            campaign_id=found[1] if found else None, count=row.count, updated_at=at)
    report.updated = sum(1 for key in objects if key in existing)
    report.created = len(objects) - report.updated
    DailyAggregate.objects.bulk_create(
        list(objects.values()), update_conflicts=True,
        unique_fields=["reported_by", "day", "kind", "referral_source"],
        update_fields=["count", "campaign", "organisation", "updated_at"])
    audit_record(organisation=reporter, actor=actor, action="outcomes.aggregates",
                 target=reporter, changes={"rows": len(rows), "created": report.created,
                                           "updated": report.updated})
    return report


def _check_days(rows: list[AggregateRow], *, at: datetime) -> None:
    for index, row in enumerate(rows):
        problem = day_problem(row.day, at=at)
        if problem:
            raise InvalidInput(f"Row {index + 1}: day: {problem}", field="rows")
        if row.kind not in REPORTABLE_KIND_VALUES:
            raise InvalidInput(f"Row {index + 1}: unknown kind.", field="rows")


def _check_linked_days(rows: list[AggregateRow], campaigns: dict[str, Owner]) -> None:
    """A row counted for a campaign cannot be dated before the campaign existed (less the
    tolerance of core.bounds)."""
    for index, row in enumerate(rows):
        found = campaigns.get(row.referral_source.upper())
        if found is not None and row.day < (found.since - EXISTENCE_TOLERANCE).date():
            raise InvalidInput(f"Row {index + 1}: day: cannot be before the campaign "
                               f"{row.referral_source.upper()} existed "
                               f"({found.since.date()}).", field="rows")


def _home_programme(reporter: Organisation) -> int:
    programmes = list(Partnership.objects.filter(partner=reporter)
                      .values_list("programme_id", flat=True)[:2])
    return programmes[0] if len(programmes) == 1 else reporter.pk
