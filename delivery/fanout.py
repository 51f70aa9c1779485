"""Fan-out: turn a due campaign step into one delivery row per person, written in bulk.

The audience is frozen here: each segment is evaluated once (the segments app already leaves out
inactive, unconsented and suppressed people), frequency-capped people get a `skipped` row, each
person is assigned an arm, and the rows are written in one transaction with the schedule's
advance. PostgreSQL gets them through COPY (a million rows in seconds); SQLite through
bulk_create. The unique key (schedule, occurrence, recipient) backs the guard that an occurrence
already fanned out is never fanned out again.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.db import connection, transaction

from campaigns.assignment import arm_assigner
from campaigns.lifecycle import schedule_mark_fired
from campaigns.models import Campaign, Schedule
from campaigns.schedules import (
    schedule_due_occurrence_key,
    schedule_next_window_start,
    schedule_relative_target_date,
    schedule_window_allows,
)
from campaigns.selectors import message_in_language
from core.pseudonyms import Pseudonym
from delivery.models import (
    ACTIVE_CAMPAIGN_STATUSES,
    Delivery,
    DeliveryState,
    SkipReason,
    uuid7_hex_stream,
)
from evaluation.exposure_log import capped_subjects, exposure_cap_for
from organisations.services import Actor, audit_record
from segments.models import Segment
from segments.selectors import segment_audience, segment_members

logger = logging.getLogger(__name__)

COLUMNS = ("id", "organisation_id", "campaign_id", "schedule_id", "occurrence_key",
           "recipient_id", "segment_id", "arm_id", "message_id", "channel", "state", "reason",
           "attempts", "next_attempt_at", "claimed_by", "provider_message_id", "created_at")
AUDIENCE_FIELDS = ("id", "reference_key_id", "reference_pseudonym", "language", "time_zone")


@dataclass(frozen=True)
class FanOutResult:
    schedule_id: int
    occurrence_key: str
    rows: int
    skipped: int


def schedules_due(*, now: datetime) -> list[int]:
    return list(Schedule.objects.filter(
        next_fire_at__lte=now, campaign__status__in=ACTIVE_CAMPAIGN_STATUSES,
    ).values_list("id", flat=True)[:500])


@transaction.atomic
def schedule_fan_out(*, schedule_id: int, now: datetime) -> FanOutResult | None:
    """Fan out the due occurrence of one step; None if it is not due or another worker has it."""
    schedule = (Schedule.objects.select_for_update(skip_locked=True, of=("self",))
                .filter(pk=schedule_id, next_fire_at__lte=now,
                        campaign__status__in=ACTIVE_CAMPAIGN_STATUSES).first())
    if schedule is None:
        return None
    campaign = (Campaign.objects.select_related("organisation")
                .prefetch_related("arms__messages").get(pk=schedule.campaign_id))
    fire_at = schedule.next_fire_at
    occurrence = schedule_due_occurrence_key(schedule, fire_at)
    rows = 0
    skipped = 0
    already = Delivery.objects.filter(schedule=schedule, occurrence_key=occurrence).exists()
    if not already and connection.vendor == "postgresql":
        # Safe without waiting for the WAL flush: rows and the schedule's advance commit
        # together, so a crash that loses this commit loses both, and the step fires again.
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL synchronous_commit TO OFF")
    if not already:
        plan = _Plan(campaign=campaign, schedule=schedule, occurrence=occurrence,
                     fire_at=fire_at, now=now)
        rows, skipped = _write(plan.rows())
    schedule_mark_fired(schedule=schedule, occurrence=fire_at)
    audit_record(organisation=campaign.organisation, actor=Actor.system(),
                 action="delivery.fan_out", target=schedule,
                 changes={"occurrence": occurrence, "rows": rows, "skipped": skipped})
    logger.info("fan-out of schedule %s occurrence %s: %s rows", schedule.pk, occurrence, rows)
    return FanOutResult(schedule_id=schedule.pk, occurrence_key=occurrence, rows=rows,
                        skipped=skipped)


def schedule_channel(schedule: Schedule, campaign: Campaign) -> str:
    channel = getattr(schedule, "channel", "") or ""
    if channel:
        return channel
    return (campaign.channels or ["email"])[0]


def channel_audience(segment: Segment, channel: str, now: datetime) -> Any:
    """Who a step on `channel` reaches: for email and SMS, members with a consented, unsuppressed
    contact; a webhook goes to a partner's system about the person, so every member."""
    if channel == "webhook":
        return segment_members(segment=segment, now=now)
    return segment_audience(segment=segment, channel=channel, now=now)


class _Plan:
    """Everything decided once per fan-out, then applied per person."""

    def __init__(self, *, campaign: Campaign, schedule: Schedule, occurrence: str,
                 fire_at: datetime, now: datetime) -> None:
        self.campaign = campaign
        self.schedule = schedule
        self.occurrence = occurrence
        self.now = now
        self.fire_at = fire_at
        self.channel = schedule_channel(schedule, campaign)
        self.assign = arm_assigner(campaign=campaign, at=now)
        self.capped = capped_subjects(campaign_id=campaign.pk, cap=exposure_cap_for(campaign, now))
        self.languages = [lang for lang in (campaign.languages or []) if lang]
        self._messages: dict[tuple[int, str], int | None] = {}
        self._due: dict[str, datetime] = {}
        self._ids = uuid7_hex_stream()

    def rows(self) -> Iterator[tuple]:
        seen: set[int] = set()
        for segment in self.campaign.segments.all():
            audience = self.relative(channel_audience(segment, self.channel, self.now))
            for person in audience.values_list(*AUDIENCE_FIELDS).iterator(chunk_size=20_000):
                if person[0] in seen:
                    continue
                seen.add(person[0])
                row = self.row(person, segment.pk)
                if row is not None:
                    yield row

    def relative(self, audience: Any) -> Any:
        """A relative step (e.g. 7 days after release) reaches those whose date is due."""
        if self.schedule.kind != "relative" or not self.schedule.relative_attribute:
            return audience
        due = schedule_relative_target_date(self.schedule, self.fire_at)
        lookup = f"attributes__{self.schedule.relative_attribute}"
        return audience.filter(**{lookup: due.isoformat()})

    def row(self, person: tuple, segment_id: int) -> tuple | None:
        recipient_id, key_id, pseudonym, language, time_zone = person
        subject = (key_id, pseudonym)
        arm = self.assign(Pseudonym(key_id, pseudonym))
        if arm is None:  # outside this campaign's share of its namespace
            return None
        state, reason, message_id = DeliveryState.QUEUED, "", None
        if subject in self.capped:
            state, reason = DeliveryState.SKIPPED, SkipReason.FREQUENCY_CAP
        elif arm.kind != "holdout":
            message_id = self.message_for(arm, language)
            if message_id is None:
                state, reason = DeliveryState.SKIPPED, SkipReason.NO_MESSAGE
        return (next(self._ids), self.campaign.organisation_id, self.campaign.pk, self.schedule.pk,
                self.occurrence, recipient_id, segment_id, arm.pk, message_id, self.channel,
                str(state), str(reason), 0, self.due_at(time_zone), "", "", self.now)

    def message_for(self, arm: Any, language: str) -> int | None:
        key = (arm.pk, language)
        if key not in self._messages:
            found = message_in_language(arm=arm, channel=self.channel, language=language,
                                        campaign_languages=self.languages)
            self._messages[key] = found.pk if found else None
        return self._messages[key]

    def due_at(self, time_zone: str) -> datetime:
        """Now if the step's window is open in the person's zone, else when it next opens."""
        if time_zone not in self._due:
            self._due[time_zone] = window_due_at(self.schedule, time_zone, self.now)
        return self._due[time_zone]


def recipient_zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def window_due_at(schedule: Schedule, time_zone: str, now: datetime) -> datetime:
    if not (schedule.window_start or schedule.window_end or schedule.window_weekdays):
        return now
    local = now.astimezone(recipient_zone(time_zone))
    if schedule_window_allows(schedule, local):
        return now
    return schedule_next_window_start(schedule, local).astimezone(UTC)


def _write(rows: Iterator[tuple]) -> tuple[int, int]:
    if connection.vendor == "postgresql":
        return _copy(rows)
    return _bulk_create(rows)


def _copy(rows: Iterator[tuple], chunk: int = 50_000) -> tuple[int, int]:
    """COPY in chunks: the audience is read through the same connection, which a COPY in
    progress holds, so rows are gathered a chunk at a time and each chunk is one COPY."""
    count = skipped = 0
    buffer: list[tuple] = []
    for row in rows:
        buffer.append(row)
        skipped += row[10] == DeliveryState.SKIPPED
        if len(buffer) >= chunk:
            count += _copy_chunk(buffer)
            buffer = []
    if buffer:
        count += _copy_chunk(buffer)
    return count, skipped


def _copy_chunk(rows: list[tuple]) -> int:
    """One COPY in PostgreSQL's text format, formatted by hand (write_row per row costs more
    than everything else in the fan-out). Every value here is an id, a fixed vocabulary word or
    a timestamp, so nothing needs escaping."""
    sql = f"COPY {Delivery._meta.db_table} ({', '.join(COLUMNS)}) FROM STDIN"
    stamps: dict[datetime, str] = {}

    def text(value: object) -> str:
        if value is None:
            return "\\N"
        if isinstance(value, datetime):
            if value not in stamps:
                stamps[value] = value.isoformat()
            return stamps[value]
        return str(value)

    lines = ["\t".join([text(v) for v in row]) for row in rows]
    with connection.cursor() as cursor, cursor.cursor.copy(sql) as copy:
        copy.write("\n".join(lines) + "\n")
    return len(rows)


def _bulk_create(rows: Iterator[tuple], batch: int = 2_000) -> tuple[int, int]:
    count = skipped = 0
    buffer: list[Delivery] = []
    for row in rows:
        buffer.append(Delivery(**dict(zip(COLUMNS, row, strict=True))))
        count += 1
        skipped += row[10] == DeliveryState.SKIPPED
        if len(buffer) >= batch:
            Delivery.objects.bulk_create(buffer, ignore_conflicts=True)
            buffer = []
    if buffer:
        Delivery.objects.bulk_create(buffer, ignore_conflicts=True)
    return count, skipped
