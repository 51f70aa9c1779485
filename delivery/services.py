"""Writes of the delivery engine: claim, release, record outcomes, sweep, provider callbacks.

Every state change is a conditional UPDATE on (pk, expected state, claimed_by): a worker whose
lease ran out and whose rows another worker re-claimed changes nothing. Sending itself lives in
delivery/sending.py, fan-out in delivery/fanout.py, the send loops in delivery/lanes.py.
"""

from __future__ import annotations

import contextlib
import logging
import random
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from uuid import UUID

from django.conf import settings
from django.core.cache import cache
from django.db import connection, transaction
from django.db.models import Count, F
from django.utils import timezone

from campaigns.lifecycle import campaign_pause
from campaigns.models import Campaign
from core.errors import Conflict, InvalidInput
from core.pseudonyms import Pseudonym
from delivery.models import (
    ACTIVE_CAMPAIGN_STATUSES,
    AttemptOutcome,
    Delivery,
    DeliveryAttempt,
    DeliveryState,
    SkipReason,
)
from evaluation.services import exposures_record_many
from organisations.services import Actor, audit_record
from segments.models import ContactChannel, Recipient
from segments.services import suppression_add

logger = logging.getLogger(__name__)

def active_campaign_ids() -> list[int]:
    return list(Campaign.objects.filter(status__in=ACTIVE_CAMPAIGN_STATUSES)
                .values_list("id", flat=True))


def deliveries_claim(*, limit: int, worker_id: str, now: datetime) -> list[UUID]:
    """Claim up to `limit` due deliveries of running campaigns for `worker_id` (unique per claim).

    Paused or cancelled campaigns are never claimed, so a pause stops sending at the next claim.
    Campaigns are visited in random order so one large campaign cannot starve the others.
    """
    campaigns = active_campaign_ids()
    random.shuffle(campaigns)
    claimed: list[UUID] = []
    for campaign_id in campaigns:
        claimed += _claim_from(campaign_id, limit - len(claimed), worker_id, now)
        if len(claimed) >= limit:
            break
    return claimed


@transaction.atomic
def _claim_from(campaign_id: int, limit: int, worker_id: str, now: datetime) -> list[UUID]:
    due = Delivery.objects.filter(campaign_id=campaign_id, state=DeliveryState.QUEUED,
                                  next_attempt_at__lte=now).order_by("next_attempt_at")
    lease = now + timedelta(seconds=settings.DELIVERY_LEASE_SECONDS)
    if connection.features.has_select_for_update_skip_locked:
        ids = list(due.select_for_update(skip_locked=True).values_list("id", flat=True)[:limit])
        Delivery.objects.filter(pk__in=ids).update(
            state=DeliveryState.SENDING, claimed_by=worker_id, lease_expires_at=lease)
        return ids
    # SQLite has no SKIP LOCKED: claim by conditional UPDATE and read back what we won.
    candidates = list(due.values_list("id", flat=True)[:limit])
    Delivery.objects.filter(pk__in=candidates, state=DeliveryState.QUEUED).update(
        state=DeliveryState.SENDING, claimed_by=worker_id, lease_expires_at=lease)
    return list(Delivery.objects.filter(pk__in=candidates, state=DeliveryState.SENDING,
                                        claimed_by=worker_id).values_list("id", flat=True))


def deliveries_release(*, ids: Iterable[UUID], worker_id: str,
                       next_attempt_at: datetime | None = None) -> int:
    """Hand claimed rows back unsent (pause, lease running out, rate limit, window closed)."""
    values: dict = {"state": DeliveryState.QUEUED, "claimed_by": "", "lease_expires_at": None}
    if next_attempt_at is not None:
        values["next_attempt_at"] = next_attempt_at
    return Delivery.objects.filter(pk__in=list(ids), state=DeliveryState.SENDING,
                                   claimed_by=worker_id).update(**values)


def deliveries_renew(*, ids: Iterable[UUID], worker_id: str, now: datetime) -> int:
    """Extend the lease of rows a live batch still holds. Leases are short (what a killed
    worker's rows wait out); a live batch renews them, so only a dead one lets them lapse."""
    lease = now + timedelta(seconds=settings.DELIVERY_LEASE_SECONDS)
    return Delivery.objects.filter(pk__in=list(ids), state=DeliveryState.SENDING,
                                   claimed_by=worker_id).update(lease_expires_at=lease)


LEASE_LAPSED_REASON = ("lease ran out: the worker stopped before recording; if the message had "
                       "reached the provider it is sent again with the same Message-ID / "
                       "idempotency key")


@transaction.atomic
def deliveries_sweep(*, now: datetime | None = None) -> int:
    """Re-queue deliveries whose worker died or lost its broker message (lease expired).

    Each re-queued row counts an attempt and gets an attempt row, so an operator sees that it
    may be transmitted twice (a re-transmission carries the same Message-ID / idempotency key).
    """
    now = now or timezone.now()
    expired = Delivery.objects.filter(state=DeliveryState.SENDING, lease_expires_at__lt=now)
    if connection.features.has_select_for_update_skip_locked:
        expired = expired.select_for_update(skip_locked=True)
    lapsed = dict(expired.values_list("id", "attempts"))
    if not lapsed:
        return 0
    count = Delivery.objects.filter(pk__in=list(lapsed), state=DeliveryState.SENDING,
                                    lease_expires_at__lt=now).update(
        state=DeliveryState.QUEUED, claimed_by="", lease_expires_at=None,
        attempts=F("attempts") + 1)
    DeliveryAttempt.objects.bulk_create(
        DeliveryAttempt(delivery_id=pk, number=attempts + 1, outcome=AttemptOutcome.LAPSED,
                        reason=LEASE_LAPSED_REASON, at=now)
        for pk, attempts in lapsed.items())
    logger.warning("re-queued %s deliveries with expired leases", count)
    return count


class Result(StrEnum):
    SENT = "sent"
    RETRY = "retry"
    FAILED = "failed"
    SKIPPED = "skipped"
    SUPPRESSED = "suppressed"


@dataclass
class Outcome:
    """What happened to one claimed row; `deliveries_record` writes a batch of them at once."""

    delivery: Delivery
    result: Result
    reason: str = ""
    provider_message_id: str = ""
    suppress: str | None = None
    retry_after: float | None = None


_RECORDED_FIELDS = ["state", "reason", "attempts", "next_attempt_at", "claimed_by",
                    "lease_expires_at", "sent_at", "provider_message_id", "exposure_id"]


@transaction.atomic
def deliveries_record(*, outcomes: list[Outcome], worker_id: str, now: datetime) -> int:
    """Record outcomes of rows this worker still holds, with their exposures, in one transaction.

    The rows are locked first and re-checked (still `sending`, still ours): a row whose lease
    ran out and that the sweeper handed to another worker is left alone, so its state, its
    exposure and its suppression are written exactly once, by whoever holds it.
    """
    ids = [outcome.delivery.pk for outcome in outcomes]
    if connection.vendor == "postgresql":
        # Not waiting for the WAL flush is safe here: a commit lost in a database crash leaves
        # its rows `sending` (and their exposures unwritten, same transaction), so the sweeper
        # re-sends them under the same Message-ID / idempotency key, exactly as after a worker
        # killed before recording. It saves a disk flush per DELIVERY_FLUSH_SIZE sends.
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL synchronous_commit TO OFF")
    owned = _lock_owned(ids, worker_id)
    changed: list[Delivery] = []
    attempts: list[DeliveryAttempt] = []
    for outcome in outcomes:
        if outcome.delivery.pk not in owned:
            logger.warning("lease lost on delivery %s: outcome not recorded", outcome.delivery.pk)
            continue
        attempt = _apply(outcome, now=now)
        if attempt is not None:
            attempts.append(attempt)
        changed.append(outcome.delivery)
    _exposures(changed, now=now)
    if changed:
        _bulk_set(changed)
    if attempts:
        DeliveryAttempt.objects.bulk_create(attempts)
    for outcome in outcomes:
        if outcome.suppress and outcome.delivery.pk in owned:
            _suppress(recipient=outcome.delivery.recipient, channel=outcome.delivery.channel,
                      reason=outcome.suppress, note=outcome.reason)
    return len(changed)


_CASTS = {"state": "text", "reason": "text", "attempts": "integer",
          "next_attempt_at": "timestamptz", "claimed_by": "text",
          "lease_expires_at": "timestamptz", "sent_at": "timestamptz",
          "provider_message_id": "text", "exposure_id": "uuid"}


def _lock_owned(ids: list[UUID], worker_id: str) -> set[UUID]:
    """Lock the rows still `sending` under this claim; return their ids."""
    if connection.vendor != "postgresql":
        return set(Delivery.objects.select_for_update().filter(
            pk__in=ids, state=DeliveryState.SENDING, claimed_by=worker_id,
        ).values_list("id", flat=True))
    table = Delivery._meta.db_table
    with connection.cursor() as cursor:  # one array parameter: the same statement every flush
        cursor.execute(f"SELECT id FROM {table} WHERE id = ANY(%s::uuid[]) "  # noqa: S608
                       "AND state = %s AND claimed_by = %s FOR UPDATE",
                       [ids, DeliveryState.SENDING, worker_id])
        return {row[0] for row in cursor.fetchall()}


def _bulk_set(rows: list[Delivery]) -> None:
    """One UPDATE for a flush. Django's bulk_update builds a CASE per field and row, which
    costs more to compile than the whole send. On PostgreSQL each column travels as one array
    (unnest), so the statement text is the same whatever the flush size."""
    table = Delivery._meta.db_table
    columns = ["id", *_RECORDED_FIELDS]
    assignments = ", ".join(f"{c} = v.{c}" for c in _RECORDED_FIELDS)
    if connection.vendor == "postgresql":
        # The raw attribute values (UUIDs, str, int, aware datetimes) adapt as they are.
        arrays = [[getattr(row, column) for row in rows] for column in columns]
        casts = ", ".join(f"%s::{'uuid' if c == 'id' else _CASTS[c]}[]" for c in columns)
        sql = (f"UPDATE {table} SET {assignments} "  # noqa: S608 - fixed names
               f"FROM unnest({casts}) AS v({', '.join(columns)}) WHERE {table}.id = v.id")
        with connection.cursor() as cursor:
            cursor.execute(sql, arrays)
        return
    row_sql = "(" + ", ".join("%s" for _ in columns) + ")"
    params: list = []
    for row in rows:
        params += [_db_value(row, column) for column in columns]
    values = ", ".join([row_sql] * len(rows))
    sql = (f"WITH v({', '.join(columns)}) AS (VALUES {values}) "  # noqa: S608 - fixed names
           f"UPDATE {table} SET {assignments} FROM v WHERE {table}.id = v.id")
    with connection.cursor() as cursor:
        cursor.execute(sql, params)


def _db_value(row: Delivery, column: str) -> object:
    field = Delivery._meta.get_field(column)
    return field.get_db_prep_value(getattr(row, field.attname), connection)


def _apply(outcome: Outcome, *, now: datetime) -> DeliveryAttempt | None:
    row = outcome.delivery
    row.claimed_by, row.lease_expires_at = "", None
    row.reason = outcome.reason[:300]
    if outcome.result == Result.SENT:
        row.state, row.sent_at = DeliveryState.SENT, now
        row.provider_message_id = outcome.provider_message_id[:128]
        row.attempts += 1
        row.exposure_id = _PENDING_EXPOSURE
        return None
    if outcome.result in (Result.SKIPPED, Result.SUPPRESSED):
        row.state = DeliveryState(outcome.result.value)
        if outcome.reason == SkipReason.HOLDOUT:
            row.exposure_id, row.sent_at = _PENDING_EXPOSURE, now
        return None
    row.attempts += 1
    if outcome.result == Result.RETRY and row.attempts < settings.DELIVERY_MAX_ATTEMPTS:
        delay = retry_delay(row.attempts, retry_after=outcome.retry_after)
        row.state, row.next_attempt_at = DeliveryState.QUEUED, now + timedelta(seconds=delay)
        return DeliveryAttempt(delivery=row, number=row.attempts, outcome=AttemptOutcome.RETRY,
                               reason=row.reason, at=now)
    if outcome.result == Result.RETRY:
        row.reason = f"gave up after {row.attempts} attempts: {outcome.reason}"[:300]
    row.state = DeliveryState.FAILED
    return DeliveryAttempt(delivery=row, number=row.attempts, outcome=AttemptOutcome.FAILED,
                           reason=row.reason, at=now)


def subject_of(delivery: Delivery) -> Pseudonym:
    recipient = delivery.recipient
    return Pseudonym(recipient.reference_key_id, recipient.reference_pseudonym)


_PENDING_EXPOSURE = UUID(int=0)  # marks rows whose exposure the flush still has to write


def _exposures(rows: list[Delivery], *, now: datetime) -> None:
    """Write the flush's exposures (sent messages and holdout assignments) and link them."""
    pending = [row for row in rows if row.exposure_id == _PENDING_EXPOSURE]
    if not pending:
        return
    records = [_exposure_fields(row, now=now) for row in pending]
    exposure_ids = exposures_record_many(records)
    for row, exposure_id in zip(pending, exposure_ids, strict=True):
        row.exposure_id = exposure_id


def _exposure_fields(delivery: Delivery, *, now: datetime) -> dict:
    recipient = delivery.recipient
    return {
        "campaign": delivery.campaign, "arm": delivery.arm, "subject": subject_of(delivery),
        "source": "delivery", "channel": delivery.channel, "country": recipient.country,
        "language": delivery.message.language if delivery.message else recipient.language,
        "segment": delivery.segment, "schedule": delivery.schedule,
        "message": delivery.message, "occurred_at": now,
        # The exposure shares the delivery's id: the help links in the message were signed
        # for it before it existed.
        "exposure_id": delivery.pk,
    }


def retry_delay(attempt: int, *, retry_after: float | None = None) -> float:
    """Exponential backoff with jitter: uniform in [c/2, c], c = base * 2^(attempt-1), capped."""
    base = settings.DELIVERY_RETRY_BASE_SECONDS
    ceiling = min(settings.DELIVERY_RETRY_MAX_SECONDS, base * 2 ** max(attempt - 1, 0))
    delay = random.uniform(ceiling / 2, ceiling)
    return max(delay, retry_after or 0.0)


# --- provider callbacks ------------------------------------------------------------------------

PROVIDER_STATUSES = {
    "delivered": (DeliveryState.DELIVERED, None),
    "undelivered": (DeliveryState.FAILED, "bounced"),
    "failed": (DeliveryState.FAILED, "bounced"),
}


@dataclass(frozen=True)
class StatusUpdate:
    delivery_id: UUID
    state: str
    changed: bool


@transaction.atomic
def delivery_status_update(*, delivery: Delivery, status: str, error_code: str = "",
                           now: datetime | None = None) -> StatusUpdate:
    """Apply a provider's delivery report: sent -> delivered, or sent -> failed (+ suppression).

    Reports can arrive twice and out of order; only a `sent` row moves, so a late `sent`
    report after `delivered` changes nothing.
    """
    target = PROVIDER_STATUSES.get(status)
    if target is None:  # queued/sending/sent at the provider: nothing to record
        return StatusUpdate(delivery.pk, delivery.state, False)
    state, suppress = target
    values: dict = {"state": state}
    if state == DeliveryState.DELIVERED:
        values["delivered_at"] = now or timezone.now()
    else:
        values["reason"] = f"provider reported {status} {error_code}".strip()[:300]
    changed = Delivery.objects.filter(pk=delivery.pk, state=DeliveryState.SENT).update(**values)
    if changed and suppress and error_code in {"30003", "30005", "30006", "21610"}:
        # Unreachable / unknown / landline / opted out: this number should not be tried again.
        _suppress(recipient=delivery.recipient, channel=delivery.channel,
                  reason="unsubscribed" if error_code == "21610" else suppress,
                  note=values.get("reason", ""))
    return StatusUpdate(delivery.pk, state if changed else delivery.state, bool(changed))


# --- auto-pause --------------------------------------------------------------------------------

def campaign_error_check(*, campaign_id: int) -> bool:
    """Pause a campaign whose failure rate crossed the threshold. True if it paused it.

    Checked at most every few seconds per campaign (a cache lock), since it counts rows.
    """
    if not cache.add(f"delivery:errcheck:{campaign_id}", 1, timeout=5):
        return False
    counts = dict(Delivery.objects.filter(
        campaign_id=campaign_id, state__in=[DeliveryState.SENT, DeliveryState.DELIVERED,
                                            DeliveryState.FAILED],
    ).values_list("state").annotate(n=Count("id")).values_list("state", "n"))
    failed = counts.get(DeliveryState.FAILED, 0)
    finished = sum(counts.values())
    if finished < settings.DELIVERY_AUTO_PAUSE_MIN_SAMPLE:
        return False
    if failed / finished < settings.DELIVERY_AUTO_PAUSE_ERROR_RATE:
        return False
    campaign = Campaign.objects.select_related("organisation").get(pk=campaign_id)
    reason = f"auto-paused: {failed} of {finished} sends failed"
    paused = _auto_pause(campaign, reason=reason)
    if paused:
        logger.warning("campaign %s %s", campaign_id, reason)
    return paused


@transaction.atomic
def _auto_pause(campaign: Campaign, *, reason: str) -> bool:
    """Pause on the system's behalf, with an audit row saying why; False if not running."""
    try:
        campaign_pause(campaign=campaign, actor=Actor.system())
    except Conflict:
        return False
    audit_record(organisation=campaign.organisation, actor=Actor.system(),
                 action="delivery.auto_pause", target=campaign, changes={"reason": reason})
    return True


def _suppress(*, recipient: Recipient, channel: str, reason: str, note: str) -> None:
    """Never send on this channel to this recipient's contact again (bounce, complaint)."""
    if channel not in ContactChannel.values:
        return  # webhooks go to a partner's system, not to a person's address
    # InvalidInput: the contact point was removed meanwhile, so there is nothing to suppress.
    with contextlib.suppress(InvalidInput):
        suppression_add(organisation=recipient.organisation, channel=channel, reason=reason,
                        actor=Actor.system(), recipient=recipient, note=note[:500])
