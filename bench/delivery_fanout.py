"""Fan-out of a large audience into delivery rows (the outbox), on PostgreSQL.

    .venv/bin/python bench/delivery_fanout.py [people]        (default 1,000,000; target < 60 s)

Set-up (not timed): recipients with an email contact point are written straight through COPY.
Timed, in the same run: two baselines (streaming the frozen audience query alone, and COPYing
the same number of bare rows into an unindexed table) and the real fan-out (audience, arm
assignment, frequency cap, send windows, COPY into the indexed, uniquely-keyed outbox).
"""

from __future__ import annotations

import os
import secrets
import sys
import time
from datetime import timedelta

sys.path.insert(0, os.path.dirname(__file__))
from _delivery_env import fresh_database, table

PEOPLE = int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000


def seed():  # type: ignore[no-untyped-def]
    from decimal import Decimal

    from django.db import connection
    from django.utils import timezone

    from campaigns.models import Arm, Campaign, Message, Schedule
    from organisations.services import Actor, organisation_create
    from segments.models import ContactPoint, Recipient
    from segments.services import segment_create

    actor = Actor.system()
    org = organisation_create(name="Bench programme", slug="bench-fanout",
                              kind="programme_owner", actor=actor)
    now = timezone.now()
    zones = ["Europe/London", "Europe/Dublin", "Europe/Berlin", "America/New_York"]
    with connection.cursor() as cursor:
        sql = (f"COPY {Recipient._meta.db_table} (organisation_id, reference_key_id, "
               "reference_pseudonym, stage, country, language, time_zone, attributes, status, "
               "created_at, updated_at, data_key_wrapped) FROM STDIN")
        with cursor.cursor.copy(sql) as copy:
            for n in range(PEOPLE):
                copy.write_row((org.pk, "2026-11", secrets.token_hex(32), "offender", "GB",
                                "en", zones[n % len(zones)], "{}", "active", now, now, "x"))
        cursor.execute(f"SELECT min(id), max(id) FROM {Recipient._meta.db_table}")  # noqa: S608
        low, high = cursor.fetchone()
        sql = (f"COPY {ContactPoint._meta.db_table} (recipient_id, channel, value_sealed, "
               "blind_index, consent_basis, consent_source, consented_at, verified, "
               "created_at, updated_at) FROM STDIN")
        with cursor.cursor.copy(sql) as copy:
            for rid in range(low, high + 1):
                copy.write_row((rid, "email", "dk1:bench", secrets.token_hex(32), "consent",
                                "bench", now, True, now, now))
        cursor.execute("ANALYZE")
    segment = segment_create(organisation=org, name="UK", stage="offender",
                             rule='country = "GB"', actor=actor)
    campaign = Campaign.objects.create(organisation=org, name="Bench", status="running",
                                       channels=["email"], languages=["en"], countries=["GB"],
                                       frequency_cap_count=1, frequency_cap_days=7)
    campaign.segments.add(segment)
    message = Message.objects.create(organisation=org, name="Help", channel="email",
                                     language="en", framing="help_therapeutic",
                                     subject="Confidential help", body="Help is available.")
    for name, kind, weight in (("a", "variant", 45), ("b", "variant", 45),
                               ("holdout", "holdout", 10)):
        arm = Arm.objects.create(campaign=campaign, name=name, kind=kind,
                                 weight=Decimal(weight))
        if kind != "holdout":
            arm.messages.add(message)
    schedule = Schedule.objects.create(campaign=campaign, kind="one_off", channel="email",
                                       send_at=now + timedelta(minutes=1))
    return segment, schedule


def baseline_audience(segment) -> float:  # type: ignore[no-untyped-def]
    from django.utils import timezone

    from delivery.fanout import AUDIENCE_FIELDS, channel_audience

    started = time.perf_counter()
    audience = channel_audience(segment, "email", timezone.now())
    count = sum(1 for _ in audience.values_list(*AUDIENCE_FIELDS).iterator(chunk_size=20_000))
    assert count == PEOPLE, count
    return time.perf_counter() - started


def baseline_copy() -> float:
    import uuid

    from django.db import connection, transaction

    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("CREATE TEMP TABLE bare (id uuid, recipient_id bigint, state text) "
                       "ON COMMIT DROP")
        started = time.perf_counter()
        with cursor.cursor.copy("COPY bare FROM STDIN") as copy:
            for n in range(PEOPLE):
                copy.write_row((uuid.uuid4(), n, "queued"))
        return time.perf_counter() - started


def main() -> None:
    fresh_database()
    print(f"seeding {PEOPLE:,} recipients with email contact points (COPY, not timed) ...")
    segment, schedule = seed()
    from django.db.models import Count
    from django.utils import timezone

    from campaigns.models import Schedule
    from delivery.fanout import schedule_fan_out
    from delivery.models import Delivery

    audience_s = baseline_audience(segment)
    copy_s = baseline_copy()
    Schedule.objects.filter(pk=schedule.pk).update(next_fire_at=timezone.now())
    started = time.perf_counter()
    result = schedule_fan_out(schedule_id=schedule.pk, now=timezone.now())
    fan_out_s = time.perf_counter() - started
    assert result is not None and result.rows == PEOPLE
    by_arm = dict(Delivery.objects.values_list("arm__name").annotate(n=Count("id")))
    table(f"Delivery fan-out of {PEOPLE:,} people into outbox rows (PostgreSQL)", [
        ("baseline: stream the audience query, s", f"{audience_s:,.1f}"),
        ("baseline: COPY bare rows, no indexes, s", f"{copy_s:,.1f}"),
        ("fan-out (freeze, assign, cap, COPY), s", f"{fan_out_s:,.1f}"),
        ("target, s", "< 60"),
        ("rows per second", f"{PEOPLE / fan_out_s:,.0f}"),
        ("rows written", f"{result.rows:,}"),
        ("arms a / b / holdout", " / ".join(f"{by_arm.get(k, 0):,}"
                                           for k in ("a", "b", "holdout"))),
    ])


if __name__ == "__main__":
    main()
