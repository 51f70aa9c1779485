"""Sustained sending to a local SMTP sink and a local HTTP (SMS) sink, and pause latency.

    .venv/bin/python bench/delivery_send.py [people]        (default 15,000: 30,000 messages)

Two worker processes (one pool child each, as on a 2-core machine), beat, a private
redis-server and both sinks in their own processes (the SMTP sink offers PIPELINING, as large
providers do; the HTTP sink keeps connections alive). Baseline, measured in the same run: the
rate at which the same two workers complete a bare no-op Celery task (enqueue -> run -> ack).
A second table gives the CPU time per message of each group of processes while sending.
"""

from __future__ import annotations

import os
import sys
import time
from datetime import timedelta

sys.path.insert(0, os.path.dirname(__file__))
from _delivery_env import (
    Processes,
    cpu_seconds,
    fresh_database,
    start_redis,
    start_sinks,
    start_workers,
    table,
    wait_for,
    worker_env,
)

PEOPLE = int(sys.argv[1]) if len(sys.argv) > 1 else 15_000
PROBES = 5_000


def seed(smtp_port: int, http_port: int):  # type: ignore[no-untyped-def]
    import json

    from django.utils import timezone

    from campaigns.models import Arm, Campaign, Message, Schedule
    from delivery.models import ChannelConfig
    from directory.models import HelpResource
    from organisations.services import Actor, organisation_create
    from segments.recipients import recipients_import
    from segments.services import segment_create

    actor = Actor.system()
    org = organisation_create(name="Bench programme", slug="bench-delivery",
                              kind="programme_owner", actor=actor)
    HelpResource.objects.create(
        organisation=org, slug="bench-line", name="Confidential prevention line",
        provider_organisation="A prevention charity", kind="helpline",
        audiences=["offender", "at_risk_self"], countries=["GB"], languages=["en"],
        phone="+441234567890", url="https://help.example.org/", source_status="verified",
        confirmed_at=timezone.now())
    rows = [{"reference": f"B-{n:07d}", "country": "GB", "language": "en", "stage": "offender",
             "email": f"person{n}@example.test", "phone": f"+4477009{n % 100000:05d}",
             "consent_basis": "consent"} for n in range(PEOPLE)]
    for start in range(0, PEOPLE, 5_000):
        recipients_import(organisation=org, rows=rows[start:start + 5_000], actor=actor)
    segment = segment_create(organisation=org, name="UK", stage="offender",
                             rule='country = "GB"', actor=actor)
    ChannelConfig.objects.create(
        organisation=org, channel="email", rate_per_second=100_000, burst=100_000,
        settings={"host": "127.0.0.1", "port": smtp_port, "from_email": "help@example.org"})
    ChannelConfig.objects.create(
        organisation=org, channel="sms", rate_per_second=100_000, burst=100_000,
        settings={"base_url": f"http://127.0.0.1:{http_port}", "account_sid": "ACbench",
                  "from_number": "+447700900000"},
        credentials=json.dumps({"auth_token": "bench"}))
    body = ("Worried about your sexual thoughts or behaviour? Confidential help is available. "
            "Quote {{ referral_code }}. Stop these messages: {{ opt_out_link }}")
    campaigns = {}
    for name in ("email", "sms", "pause"):
        channel = "sms" if name == "sms" else "email"
        campaign = Campaign.objects.create(organisation=org, name=f"Bench {name}",
                                           status="running", channels=[channel],
                                           languages=["en"], countries=["GB"],
                                           frequency_cap_count=0)
        campaign.segments.add(segment)
        message = Message.objects.create(organisation=org, name=f"Bench {name}",
                                         channel=channel, language="en",
                                         framing="help_therapeutic",
                                         subject="Confidential help is available", body=body)
        arm = Arm.objects.create(campaign=campaign, name="supportive", weight=1)
        arm.messages.add(message)
        Schedule.objects.create(campaign=campaign, kind="one_off", channel=channel,
                                send_at=timezone.now() + timedelta(days=1))
        campaigns[name] = campaign
    return campaigns


def fire(*campaigns) -> None:  # type: ignore[no-untyped-def]
    from django.utils import timezone

    from campaigns.models import Schedule

    Schedule.objects.filter(campaign__in=campaigns).update(next_fire_at=timezone.now())


def sent(*campaigns) -> int:  # type: ignore[no-untyped-def]
    from delivery.models import Delivery

    return Delivery.objects.filter(campaign__in=campaigns, state="sent").count()


def send_span(campaign) -> tuple[int, float]:  # type: ignore[no-untyped-def]
    from django.db.models import Max, Min

    from delivery.models import Delivery

    rows = Delivery.objects.filter(campaign=campaign, state="sent")
    span = rows.aggregate(first=Min("sent_at"), last=Max("sent_at"))
    return rows.count(), (span["last"] - span["first"]).total_seconds()


def baseline(redis_url: str) -> float:
    from django.core.cache import cache

    from delivery.tasks import probe

    cache.set("bench:probe", 0, timeout=None)
    started = time.monotonic()
    for _ in range(PROBES):
        probe.delay("bench:probe")
    wait_for(lambda: cache.get("bench:probe") >= PROBES, timeout=300, every=0.01)
    return PROBES / (time.monotonic() - started)


def pause_latency(campaign) -> tuple[float, int]:  # type: ignore[no-untyped-def]
    from django.db.models import Max
    from django.utils import timezone

    from campaigns.lifecycle import campaign_pause
    from delivery.models import Delivery
    from organisations.services import Actor

    fire(campaign)
    wait_for(lambda: sent(campaign) >= 2_000, timeout=300, every=0.02)
    paused_at = timezone.now()
    campaign_pause(campaign=campaign, actor=Actor.system())
    last, still = sent(campaign), time.monotonic()
    while time.monotonic() - still < 3:  # until nothing more is sent for 3 s
        time.sleep(0.1)
        now = sent(campaign)
        if now != last:
            last, still = now, time.monotonic()
    final = Delivery.objects.filter(campaign=campaign, state="sent").aggregate(m=Max("sent_at"))
    latency = max((final["m"] - paused_at).total_seconds(), 0.0)
    waiting = Delivery.objects.filter(campaign=campaign, state="queued").count()
    return latency, waiting


def main() -> None:
    with Processes() as processes:
        redis_url = start_redis(processes)
        os.environ["REDIS_URL"] = f"{redis_url}/0"
        os.environ["CELERY_BROKER_URL"] = f"{redis_url}/1"
        fresh_database()
        smtp_port, http_port = start_sinks(processes)
        print(f"seeding {PEOPLE:,} people with an email address and a phone number ...")
        campaigns = seed(smtp_port, http_port)
        start_workers(processes, worker_env(redis_url))
        time.sleep(3)
        rate_probe = baseline(redis_url)
        started = time.monotonic()
        cpu_before = cpu_seconds(processes)
        fire(campaigns["email"], campaigns["sms"])
        total = 2 * PEOPLE
        done = wait_for(lambda: sent(campaigns["email"], campaigns["sms"]) >= total,
                        timeout=1800, every=0.5)
        wall = time.monotonic() - started
        cpu_after = cpu_seconds(processes)
        email_n, email_s = send_span(campaigns["email"])
        sms_n, sms_s = send_span(campaigns["sms"])
        from django.db.models import Max, Min

        from delivery.models import Delivery

        both = Delivery.objects.filter(campaign__in=[campaigns["email"], campaigns["sms"]],
                                       state="sent").aggregate(a=Min("sent_at"), b=Max("sent_at"))
        overall = (email_n + sms_n) / max((both["b"] - both["a"]).total_seconds(), 1e-9)
        latency, waiting = pause_latency(campaigns["pause"])
        table("Delivery: sustained sending (2 worker processes, PostgreSQL + Redis, loopback)", [
            ("baseline: bare Celery task round trips/s", f"{rate_probe:,.0f}"),
            ("email (SMTP sink) messages/s", f"{email_n / max(email_s, 1e-9):,.0f}"),
            ("SMS (HTTP sink) messages/s", f"{sms_n / max(sms_s, 1e-9):,.0f}"),
            ("overall messages/s, both at once", f"{overall:,.0f}"),
            ("target messages/s", "1,000"),
            ("messages sent", f"{email_n + sms_n:,} of {total:,}" + ("" if done else " (!)")),
            ("wall time incl. fan-out, s", f"{wall:,.1f}"),
            ("pause latency (last send after pause), s", f"{latency:.2f}"),
            ("deliveries left waiting by the pause", f"{waiting:,}"),
        ])
        cpu = {name: cpu_after[name] - cpu_before.get(name, 0.0) for name in cpu_after}
        table(f"CPU while sending (fan-out included), ms per message ({wall:,.1f} s wall)", [
            (name, f"{1000 * used / max(total, 1):.3f}")
            for name, used in sorted(cpu.items(), key=lambda item: -item[1])])
        print(f"\nlogs: {processes.logdir}")


if __name__ == "__main__":
    main()
