"""Reads for live interventions and outcome reports, always from the caller's point of view.

The partner snapshot (its trigger vocabulary and its running campaigns with arms, messages,
segments and flights) is cached in-process for INTERVENTIONS_SNAPSHOT_SECONDS (default 5 s):
the intervention hot path then costs no query for it. The price is staleness: a campaign
paused, a trigger removed or a flight started is seen by each web process within that time.
Flight ends are re-checked on every request against the cached flights.
"""

from __future__ import annotations

import functools
import logging
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, NamedTuple

from django.conf import settings
from django.db import connection
from django.db.models import Sum

from campaigns.assignment import CampaignArms, campaign_arms
from campaigns.models import Campaign
from campaigns.selectors import (
    campaign_ids_visible_to,
    in_flight,
    messages_for_arm,
    running_campaigns_for_partner,
)
from core.memo import FOREVER, Memo
from evaluation.models import Exposure
from interventions.models import DailyAggregate
from organisations.models import Organisation, Partnership
from organisations.selectors import programmes_visible_to
from segments.models import SegmentStatus
from segments.targeting import rule_parse

logger = logging.getLogger(__name__)



@dataclass(frozen=True)
class SegmentEntry:
    segment: Any
    rule: Any  # a parsed segments.rules.Rule


@dataclass(frozen=True)
class CampaignEntry:
    campaign: Campaign
    arms: CampaignArms  # sorted arms and their slices, worked out once per snapshot
    segments: tuple[SegmentEntry, ...]
    # A campaign whose segments are all invalid must match nobody, not everybody.
    targets_everyone: bool
    # (starts_at, ends_at) of each flight: flight ends are checked on every request.
    flights: tuple[tuple[datetime, datetime | None], ...] = ()
    # (arm id, channel, language chain) -> message, filled as requests ask.
    messages: dict[tuple, Any] = field(default_factory=dict, compare=False)

    def in_flight(self, at: datetime) -> bool:
        return in_flight(self.flights, at)

    def message_for(self, *, arm: Any, channel: str, language_chain: tuple[str, ...]) -> Any:
        key = (arm.pk, channel, language_chain)
        if key not in self.messages:
            self.messages[key] = messages_for_arm(arm=arm, channel=channel,
                                                  language_chain=language_chain)
        return self.messages[key]


@dataclass
class PartnerSnapshot:
    triggers: frozenset[str]
    campaigns: list[CampaignEntry] = field(default_factory=list)


_snapshots: Memo[PartnerSnapshot] = Memo(max_entries=10_000)
_rules: Memo[tuple[Any]] = Memo(max_entries=4096)  # by (segment id, updated_at): FOREVER


def snapshot_seconds() -> float:
    return float(settings.INTERVENTIONS_SNAPSHOT_SECONDS)


def snapshot_clear() -> None:
    """Forget every cached snapshot and parsed rule (tests; after a bulk change)."""
    _snapshots.clear()
    _rules.clear()


def partner_snapshot(*, partner: Organisation, at: datetime) -> PartnerSnapshot:
    snapshot = _snapshots.get(partner.pk, lambda: _snapshot_load(partner=partner, at=at),
                              seconds=snapshot_seconds())
    assert snapshot is not None
    return snapshot


def partner_triggers(*, partner: Organisation) -> frozenset[str]:
    """The union of the trigger vocabularies of the partner's programmes."""
    triggers: set[str] = set()
    for vocabulary in Partnership.objects.filter(partner=partner).values_list("triggers",
                                                                              flat=True):
        triggers.update(t for t in vocabulary or [] if isinstance(t, str))
    return frozenset(triggers)


def _snapshot_load(*, partner: Organisation, at: datetime) -> PartnerSnapshot:
    campaigns = running_campaigns_for_partner(partner=partner, at=at)
    entries = [_campaign_entry(campaign) for campaign in campaigns]
    return PartnerSnapshot(triggers=partner_triggers(partner=partner), campaigns=entries)


def _campaign_entry(campaign: Campaign) -> CampaignEntry:
    segments = list(campaign.segments.all())
    parsed = tuple(SegmentEntry(s, rule) for s in segments
                   if (rule := segment_rule_cached(s)) is not None)
    flights = tuple((flight.starts_at, flight.ends_at) for flight in campaign.flights.all())
    return CampaignEntry(campaign=campaign, arms=campaign_arms(campaign), segments=parsed,
                         targets_everyone=not segments, flights=flights)


def segment_rule_cached(segment: Any) -> Any | None:
    """The segment's parsed rule, parsed once per (id, updated_at); None when it is invalid."""
    if segment.status != SegmentStatus.READY:
        return None
    boxed = _rules.get((segment.pk, segment.updated_at), lambda: (_rule_parse(segment),),
                       seconds=FOREVER)
    assert boxed is not None
    return boxed[0]


def _rule_parse(segment: Any) -> Any | None:
    try:
        return rule_parse(segment.rule, organisation=segment.organisation)
    except Exception:  # a rule that does not parse matches nobody; the segment app reports it
        logger.warning("segment %s has a rule that does not parse; it matches nobody",
                       segment.pk)
        return None


class Owner(NamedTuple):
    """Who an outcome report belongs to, and since when it can have happened."""

    programme_id: int
    campaign_id: int
    since: datetime


def exposures_reportable_by(*, reporter: Organisation,
                            ids: Iterable[uuid.UUID]) -> dict[uuid.UUID, Owner]:
    """{exposure id: (programme id, campaign id, shown at)} for the ids the reporter may
    report on.

    A reporter may report on exposures of the campaigns it may see (its own programme's, or
    those it is enrolled in as a partner: campaigns.selectors.campaign_ids_visible_to). Any
    other id is left out, exactly like an id that does not exist (no existence leak).
    """
    ids = list(ids)
    if not ids:
        return {}
    if connection.vendor == "postgresql":
        # One array parameter instead of 10,000 bound values (a batch's whole id list).
        sql, repeats = reportable_sql()
        with connection.cursor() as cursor:
            cursor.execute(sql, [ids, *[reporter.pk] * repeats])
            return {row[0]: Owner(*row[1:]) for row in cursor.fetchall()}
    rows = (Exposure.objects.filter(id__in=ids, campaign__in=campaign_ids_visible_to(reporter))
            .values_list("id", "organisation_id", "campaign_id", "occurred_at"))
    return {row[0]: Owner(*row[1:]) for row in rows}


_PLACEHOLDER_ORGANISATION = -7  # no organisation has this id; only its position matters


@functools.cache
def reportable_sql() -> tuple[str, int]:
    """The outcome hot path's statement and how many times it takes the reporter's id.

    Compiled once from the visibility selector itself (not a copy of its rule): the
    selector's SQL for a placeholder organisation, whose parameters are all that id.
    """
    visible, params = campaign_ids_visible_to(_PLACEHOLDER_ORGANISATION).query.sql_with_params()
    if set(params) != {_PLACEHOLDER_ORGANISATION}:
        raise RuntimeError("the visibility selector takes more than the organisation")
    return (f"SELECT id, organisation_id, campaign_id, occurred_at "  # noqa: S608
            f"FROM {Exposure._meta.db_table} WHERE id = ANY(%s) AND campaign_id IN ({visible})",
            len(params))


def campaigns_by_referral_code(*, reporter: Organisation,
                               codes: Iterable[str]) -> dict[str, Owner]:
    """{CODE: (programme id, campaign id, created at)} for codes of campaigns the reporter
    works with."""
    codes = {code.upper() for code in codes if code}
    if not codes:
        return {}
    rows = (Campaign.objects.filter(referral_code__in=codes,
                                    organisation_id__in=programmes_visible_to(reporter))
            .values_list("referral_code", "organisation_id", "pk", "created_at"))
    return {row[0].upper(): Owner(*row[1:]) for row in rows}


def demo_partners() -> list[Organisation]:
    """Partner platforms the demo page can play (those with a programme partnership).

    For the demo pages only (DEBUG or DEMO_PAGES=1): it names organisations across tenants,
    which is acceptable for a local demo and never reachable in production.
    """
    return list(Organisation.objects.filter(kind="partner_platform",
                                            programme_partnerships__isnull=False)
                .distinct().order_by("name"))


def helpline_daily_totals(*, organisation: Organisation, kind: str, start: date,
                          end: date) -> dict[date, int]:
    """Daily totals of ``kind`` that helplines reported for a programme, all referral sources.

    The population view's source (registered with ``evaluation.population`` in outreach/apps.py).
    """
    rows = (DailyAggregate.objects.filter(organisation=organisation, kind=kind, day__gte=start,
                                          day__lte=end)
            .values("day").annotate(total=Sum("count")))
    return {row["day"]: int(row["total"]) for row in rows}
