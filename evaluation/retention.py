"""Retention: each programme's setting, the purge of rolled-up raw events, key destruction.

Raw exposures and outcomes go ``days_after_campaign_end`` after their campaign ended and at
the latest 13 months after they occurred, once rolled up; aggregates stay. Pseudonym keys of
periods past retention are destroyed, so old pseudonyms can no longer be linked to anyone.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from django.db import connection, transaction
from django.db.models import Q
from django.utils import timezone

from campaigns.models import Campaign
from core.errors import InvalidInput
from core.keys import period_of, pseudonym_ring
from evaluation.models import Exposure, Outcome, RetentionAction, RetentionRun, RetentionSettings
from evaluation.rollup import rolled_up_exposures
from organisations.models import Organisation
from organisations.services import Actor, audit_record

logger = logging.getLogger(__name__)

MAX_RETENTION_DAYS = 395  # 13 months: no raw event outlives this, whatever a programme sets
DEFAULT_DAYS_AFTER_END = 90


@transaction.atomic
def retention_settings_set(*, organisation: Organisation, actor: Actor,
                           days_after_campaign_end: int) -> RetentionSettings:
    if not 0 <= days_after_campaign_end <= MAX_RETENTION_DAYS:
        raise InvalidInput(f"must be between 0 and {MAX_RETENTION_DAYS} days",
                           field="days_after_campaign_end")
    row, _ = RetentionSettings.objects.update_or_create(
        organisation=organisation, defaults={"days_after_campaign_end": days_after_campaign_end})
    audit_record(organisation=organisation, actor=actor, action="retention_settings.set",
                 target=row, changes={"days_after_campaign_end": days_after_campaign_end})
    return row



def campaign_ended_at(campaign) -> datetime | None:  # type: ignore[no-untyped-def]
    """When a campaign ended: its last flight's end once all flights ended, or the moment
    it was completed or cancelled; None while it may still run."""
    if campaign.status in ("completed", "cancelled") and campaign.status_changed_at:
        return campaign.status_changed_at
    flights = list(campaign.flights.all())
    if not flights or any(f.ends_at is None for f in flights):
        return None
    last = max(f.ends_at for f in flights)
    return last if last <= timezone.now() else None


def retention_days_for(organisation: Organisation) -> int:
    row = RetentionSettings.objects.filter(organisation=organisation).first()
    days = row.days_after_campaign_end if row else DEFAULT_DAYS_AFTER_END
    return min(days, MAX_RETENTION_DAYS)


def purge_expired_raw_events(*, now: datetime | None = None,
                             batch_size: int = 50_000) -> dict[int, dict[str, int]]:
    """Delete rolled-up raw exposures and outcomes past each programme's retention.

    A campaign's raw rows go ``days_after_campaign_end`` after it ended; any raw row goes
    13 months after it occurred, ended or not. Rows not yet rolled up are kept (their counts
    would be lost). Rollups (daily cells, subject totals) stay.
    """
    now = now or timezone.now()
    hard_cutoff = now - timedelta(days=MAX_RETENTION_DAYS)
    summary: dict[int, dict[str, int]] = {}
    for organisation in Organisation.objects.filter(campaigns__isnull=False).distinct():
        days = retention_days_for(organisation)
        expired_ids = [
            c.pk for c in Campaign.objects.filter(organisation=organisation)
            .prefetch_related("flights")
            if (ended := campaign_ended_at(c)) is not None and ended + timedelta(days=days) <= now
        ]
        counts = _purge_organisation(organisation, expired_ids, hard_cutoff, batch_size)
        if counts["exposures"] or counts["outcomes"]:
            _record_purge(organisation, counts, days, expired_ids)
            summary[organisation.pk] = counts
    return summary


def _purge_organisation(organisation: Organisation, expired_campaign_ids: list[int],
                        hard_cutoff: datetime, batch_size: int) -> dict[str, int]:
    expired = Q(campaign_id__in=expired_campaign_ids) | Q(occurred_at__lt=hard_cutoff)
    outcomes = Outcome.objects.filter(organisation=organisation,
                                      rolled_up_at__isnull=False).filter(
        Q(campaign_id__in=expired_campaign_ids)
        | Q(exposure__campaign_id__in=expired_campaign_ids)
        | Q(occurred_at__lt=hard_cutoff))
    exposures = Exposure.objects.filter(organisation=organisation).filter(
        rolled_up_exposures()).filter(expired)
    # An exposure with an outcome still waiting for the rollup stays until that outcome
    # has been counted in the exposure's cell.
    waiting = Outcome.objects.filter(rolled_up_at__isnull=True, exposure__isnull=False)
    exposures = exposures.exclude(pk__in=waiting.values("exposure_id"))
    return {"outcomes": _delete_in_batches(outcomes, batch_size),
            "exposures": _delete_in_batches(exposures, batch_size, unlink_outcomes=True)}


def _delete_in_batches(queryset, batch_size: int, *, unlink_outcomes: bool = False) -> int:  # type: ignore[no-untyped-def]
    deleted = 0
    while True:
        ids = list(queryset.values_list("pk", flat=True)[:batch_size])
        if not ids:
            return deleted
        with transaction.atomic():
            if unlink_outcomes:
                # Counted outcomes outlive their exposure (as on_delete=SET_NULL would do).
                Outcome.objects.filter(exposure_id__in=ids).update(exposure=None)
            deleted += queryset.model.objects.filter(pk__in=ids)._raw_delete(connection.alias)


@transaction.atomic
def _record_purge(organisation: Organisation, counts: dict[str, int], days: int,
                  campaign_ids: list[int]) -> None:
    run = RetentionRun.objects.create(
        organisation=organisation, action=RetentionAction.PURGE,
        details={**counts, "days_after_campaign_end": days, "ended_campaigns": campaign_ids})
    audit_record(organisation=organisation, actor=Actor.system(),
                 action="evaluation.raw_events_purged", target=run, changes=run.details)


def _months_between(earlier: str, later: str) -> int:
    y1, m1 = (int(x) for x in earlier.split("-"))
    y2, m2 = (int(x) for x in later.split("-"))
    return (y2 - y1) * 12 + (m2 - m1)


def expired_key_periods(*, now: datetime | None = None) -> list[str]:
    """Pseudonym key periods whose every row is past the maximum retention.

    A period's rows can live 13 months after the period ends, so its key goes once the
    period ended more than 13 months ago. The current and previous periods never qualify.
    """
    current = period_of(now or timezone.now())
    expired = []
    for key_id in sorted(pseudonym_ring().keys()):  # a KeyRing, not a dict
        try:
            age = _months_between(key_id, current)
        except ValueError:
            continue  # not a period id: not ours to destroy
        if age >= 2 and age - 1 >= 13:
            expired.append(key_id)
    return sorted(expired)


def destroy_expired_pseudonym_keys(*, now: datetime | None = None) -> list[str]:
    """Destroy expired pseudonym keys so their pseudonyms can no longer be linked to anyone."""
    destroyed = []
    for key_id in expired_key_periods(now=now):
        if pseudonym_ring().destroy(key_id):
            destroyed.append(key_id)
            _record_key_destroyed(key_id)
        else:
            # Keys from the environment cannot be deleted from here: say so loudly.
            logger.warning("pseudonym key %s is past retention: remove it from the key ring",
                           key_id)
    return destroyed


@transaction.atomic
def _record_key_destroyed(key_id: str) -> None:
    run = RetentionRun.objects.create(action=RetentionAction.KEY_DESTROYED,
                                      details={"key_id": key_id})
    audit_record(organisation=None, actor=Actor.system(), action="pseudonym_key.destroyed",
                 target=run, changes={"key_id": key_id})
