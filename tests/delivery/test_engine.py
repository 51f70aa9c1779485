"""The delivery engine in one process: fan-out, claim, send, record, sweep, exactly once."""

from __future__ import annotations

from datetime import time, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.db.models import Count
from django.utils import timezone

from delivery.fanout import schedule_fan_out
from delivery.models import Delivery, DeliveryAttempt
from delivery.services import (
    Outcome,
    Result,
    deliveries_claim,
    deliveries_record,
    deliveries_sweep,
)
from evaluation.models import Exposure
from organisations.services import Actor
from segments.models import Recipient, Suppression
from segments.services import suppression_add
from tests.delivery.factories import (
    channel_config,
    email_address,
    recipients,
    send_until_idle,
    sending_campaign,
)

pytestmark = pytest.mark.django_db


def smtp_config(organisation, sink):  # type: ignore[no-untyped-def]
    return channel_config(organisation, settings={"host": "127.0.0.1", "port": sink.port,
                                                  "from_email": "help@example.org"})


def states(campaign) -> dict[str, int]:  # type: ignore[no-untyped-def]
    rows = Delivery.objects.filter(campaign=campaign).values("state").annotate(n=Count("id"))
    return {row["state"]: row["n"] for row in rows}


def test_it_writes_one_delivery_per_person_and_a_rerun_writes_none(tenant):
    recipients(tenant.organisation, 12)
    built = sending_campaign(tenant.organisation)
    result = schedule_fan_out(schedule_id=built.schedule.pk, now=timezone.now())
    assert result is not None and result.rows == 12
    assert schedule_fan_out(schedule_id=built.schedule.pk, now=timezone.now()) is None
    # Even if the step were due again for the same occurrence, nothing is written twice.
    built.schedule.refresh_from_db()
    type(built.schedule).objects.filter(pk=built.schedule.pk).update(
        next_fire_at=built.schedule.send_at)
    again = schedule_fan_out(schedule_id=built.schedule.pk, now=timezone.now())
    assert again is not None and again.rows == 0
    assert Delivery.objects.filter(campaign=built.campaign).count() == 12


def test_it_does_not_fan_out_a_paused_campaign(tenant):
    recipients(tenant.organisation, 3)
    built = sending_campaign(tenant.organisation, status="paused")
    assert schedule_fan_out(schedule_id=built.schedule.pk, now=timezone.now()) is None
    assert not Delivery.objects.exists()


def test_it_sends_each_person_one_email_with_a_message_id_from_the_delivery(tenant, smtp_sink):
    recipients(tenant.organisation, 20)
    built = sending_campaign(tenant.organisation)
    smtp_config(tenant.organisation, smtp_sink)
    schedule_fan_out(schedule_id=built.schedule.pk, now=timezone.now())
    report = send_until_idle()
    assert report.sent == 20
    assert states(built.campaign) == {"sent": 20}
    received = smtp_sink.recorder.per_recipient()
    assert set(received) == {email_address(n) for n in range(20)}
    ids = {f"<delivery-{pk}@outreach>" for pk in Delivery.objects.values_list("pk", flat=True)}
    assert {next(iter(v)) for v in received.values()} == ids
    headers = smtp_sink.recorder.headers[0]
    assert str(headers["List-Unsubscribe"]).strip().startswith("<http")
    assert str(headers["List-Unsubscribe-Post"]).strip() == "List-Unsubscribe=One-Click"
    assert send_until_idle().sent == 0  # nothing is ever sent twice


def test_every_send_writes_an_exposure_with_the_arm_and_the_persons_pseudonym(tenant,
                                                                             smtp_sink):
    recipients(tenant.organisation, 30)
    built = sending_campaign(tenant.organisation, holdout_weight="1")
    smtp_config(tenant.organisation, smtp_sink)
    schedule_fan_out(schedule_id=built.schedule.pk, now=timezone.now())
    send_until_idle()
    counts = states(built.campaign)
    assert counts.get("sent", 0) + counts.get("skipped", 0) == 30
    assert counts.get("skipped", 0) > 0 and counts.get("sent", 0) > 0
    assert Exposure.objects.filter(campaign=built.campaign).count() == 30
    holdouts = Delivery.objects.filter(campaign=built.campaign, state="skipped")
    assert set(holdouts.values_list("reason", flat=True)) == {"holdout"}
    assert Exposure.objects.filter(is_holdout=True).count() == holdouts.count()
    assert len(smtp_sink.recorder.accepted) == counts["sent"]
    delivery = Delivery.objects.filter(state="sent").select_related("recipient").first()
    exposure = Exposure.objects.get(pk=delivery.exposure_id)
    assert exposure.subject_pseudonym == delivery.recipient.reference_pseudonym
    assert (exposure.arm_id, exposure.schedule_id, exposure.segment_id, exposure.channel) == (
        delivery.arm_id, built.schedule.pk, built.segment.pk, "email")
    assert exposure.country == "GB" and exposure.language == "en"


def test_people_at_their_frequency_cap_are_skipped_with_that_reason(tenant, smtp_sink):
    """The cap is per person per campaign (evaluation.exposure_log): a second step of the same
    campaign skips them; another campaign's exposures do not count against it."""
    recipients(tenant.organisation, 4)
    smtp_config(tenant.organisation, smtp_sink)
    first = sending_campaign(tenant.organisation)
    type(first.campaign).objects.filter(pk=first.campaign.pk).update(
        frequency_cap_count=1, frequency_cap_days=7)
    schedule_fan_out(schedule_id=first.schedule.pk, now=timezone.now())
    send_until_idle()
    again = second_step(first)
    schedule_fan_out(schedule_id=again.pk, now=timezone.now())
    assert dict(Delivery.objects.filter(schedule=again).values_list("state").annotate(
        n=Count("id"))) == {"skipped": 4}
    assert set(Delivery.objects.filter(schedule=again)
               .values_list("reason", flat=True)) == {"frequency_cap"}
    other = sending_campaign(tenant.organisation)
    type(other.campaign).objects.filter(pk=other.campaign.pk).update(
        frequency_cap_count=1, frequency_cap_days=7)
    schedule_fan_out(schedule_id=other.schedule.pk, now=timezone.now())
    assert states(other.campaign) == {"queued": 4}


def test_holdout_exposures_count_towards_the_frequency_cap(tenant, smtp_sink):
    """A holdout is an exposure to the experiment: a held-out person reaches the cap too."""
    recipients(tenant.organisation, 4)
    smtp_config(tenant.organisation, smtp_sink)
    built = sending_campaign(tenant.organisation, holdout_weight="1")
    type(built.arms[0]).objects.filter(pk=built.arms[0].pk).update(weight=0)  # all held out
    type(built.campaign).objects.filter(pk=built.campaign.pk).update(
        frequency_cap_count=1, frequency_cap_days=7)
    schedule_fan_out(schedule_id=built.schedule.pk, now=timezone.now())
    send_until_idle()
    assert Exposure.objects.filter(campaign=built.campaign, is_holdout=True).count() == 4
    again = second_step(built)
    schedule_fan_out(schedule_id=again.pk, now=timezone.now())
    assert set(Delivery.objects.filter(schedule=again)
               .values_list("reason", flat=True)) == {"frequency_cap"}


def second_step(built):  # type: ignore[no-untyped-def]
    """Another due step of the same campaign."""
    from campaigns.models import Schedule

    step = Schedule.objects.create(campaign=built.campaign, kind="one_off",
                                   channel=built.schedule.channel, send_at=timezone.now())
    Schedule.objects.filter(pk=step.pk).update(next_fire_at=timezone.now())
    return step


def test_suppressed_people_are_left_out_and_later_suppressions_stop_the_send(tenant, smtp_sink):
    recipients(tenant.organisation, 5)
    people = list(Recipient.objects.order_by("pk"))
    suppression_add(organisation=tenant.organisation, channel="email", reason="unsubscribed",
                    actor=Actor.system(), recipient=people[0])
    built = sending_campaign(tenant.organisation)
    smtp_config(tenant.organisation, smtp_sink)
    schedule_fan_out(schedule_id=built.schedule.pk, now=timezone.now())
    assert Delivery.objects.count() == 4
    suppression_add(organisation=tenant.organisation, channel="email", reason="unsubscribed",
                    actor=Actor.system(), recipient=people[1])
    send_until_idle()
    assert states(built.campaign) == {"sent": 3, "suppressed": 1}
    assert email_address(1) not in smtp_sink.recorder.per_recipient()


def test_two_claims_never_share_a_delivery_and_paused_campaigns_are_not_claimed(tenant):
    recipients(tenant.organisation, 10)
    running = sending_campaign(tenant.organisation)
    paused = sending_campaign(tenant.organisation)
    schedule_fan_out(schedule_id=running.schedule.pk, now=timezone.now())
    schedule_fan_out(schedule_id=paused.schedule.pk, now=timezone.now())
    type(paused.campaign).objects.filter(pk=paused.campaign.pk).update(status="paused")
    first = deliveries_claim(limit=6, worker_id="a", now=timezone.now())
    second = deliveries_claim(limit=6, worker_id="b", now=timezone.now())
    assert len(first) == 6 and len(second) == 4 and not set(first) & set(second)
    claimed = Delivery.objects.filter(pk__in=first + second)
    assert set(claimed.values_list("campaign", flat=True)) == {running.campaign.pk}
    assert deliveries_claim(limit=6, worker_id="c", now=timezone.now()) == []


def test_the_sweeper_requeues_only_expired_leases(tenant):
    recipients(tenant.organisation, 4)
    built = sending_campaign(tenant.organisation)
    schedule_fan_out(schedule_id=built.schedule.pk, now=timezone.now())
    now = timezone.now()
    claimed = deliveries_claim(limit=4, worker_id="dead-worker", now=now)
    assert deliveries_sweep(now=now + timedelta(seconds=1)) == 0
    assert deliveries_sweep(now=now + timedelta(hours=1)) == 4
    assert set(Delivery.objects.filter(pk__in=claimed).values_list("state", flat=True)) == {
        "queued"}


def test_a_worker_whose_lease_was_taken_over_records_nothing(tenant):
    recipients(tenant.organisation, 1)
    built = sending_campaign(tenant.organisation)
    schedule_fan_out(schedule_id=built.schedule.pk, now=timezone.now())
    now = timezone.now()
    [pk] = deliveries_claim(limit=1, worker_id="slow", now=now)
    deliveries_sweep(now=now + timedelta(hours=1))
    [again] = deliveries_claim(limit=1, worker_id="fresh", now=now + timedelta(hours=1))
    assert again == pk
    stale = Delivery.objects.select_related("recipient", "campaign", "arm", "message",
                                            "schedule", "segment").get(pk=pk)
    recorded = deliveries_record(outcomes=[Outcome(stale, Result.SENT)], worker_id="slow",
                                 now=timezone.now())
    assert recorded == 0
    assert Delivery.objects.get(pk=pk).claimed_by == "fresh"
    assert not Exposure.objects.exists()


def test_a_451_is_retried_later_with_the_attempt_recorded(tenant, smtp_sink):
    recipients(tenant.organisation, 3)
    built = sending_campaign(tenant.organisation)
    smtp_config(tenant.organisation, smtp_sink)
    schedule_fan_out(schedule_id=built.schedule.pk, now=timezone.now())
    smtp_sink.recorder.temporary_failures = 3
    report = send_until_idle()
    assert report.retried == 3 and report.sent == 0
    attempts = DeliveryAttempt.objects.all()
    assert attempts.count() == 3
    assert all(a.outcome == "retry" and a.reason.startswith("smtp 451") for a in attempts)
    assert all(d.next_attempt_at > timezone.now() for d in Delivery.objects.all())
    Delivery.objects.update(next_attempt_at=timezone.now())  # time passes
    assert send_until_idle().sent == 3
    assert states(built.campaign) == {"sent": 3}


def test_a_550_fails_with_the_servers_reason_and_suppresses_the_address(tenant, smtp_sink):
    recipients(tenant.organisation, 3)
    built = sending_campaign(tenant.organisation)
    smtp_config(tenant.organisation, smtp_sink)
    schedule_fan_out(schedule_id=built.schedule.pk, now=timezone.now())
    smtp_sink.recorder.rejected_addresses = {email_address(2)}
    send_until_idle()
    assert states(built.campaign) == {"sent": 2, "failed": 1}
    failed = Delivery.objects.get(state="failed")
    assert failed.reason.startswith("smtp 550") and "mailbox unavailable" in failed.reason
    assert Suppression.objects.filter(recipient=failed.recipient, reason="bounced").exists()


def test_retries_stop_after_the_last_attempt_with_the_reason(tenant, smtp_sink, settings):
    settings.DELIVERY_MAX_ATTEMPTS = 2
    recipients(tenant.organisation, 1)
    built = sending_campaign(tenant.organisation)
    smtp_config(tenant.organisation, smtp_sink)
    schedule_fan_out(schedule_id=built.schedule.pk, now=timezone.now())
    smtp_sink.recorder.temporary_failures = 10
    send_until_idle()
    Delivery.objects.update(next_attempt_at=timezone.now())
    send_until_idle()
    delivery = Delivery.objects.get()
    assert delivery.state == "failed" and delivery.attempts == 2
    assert delivery.reason.startswith("gave up after 2 attempts: smtp 451")


def test_deliveries_outside_the_window_wait_for_it_in_the_persons_time_zone(tenant, smtp_sink):
    recipients(tenant.organisation, 1, time_zone="Pacific/Auckland")
    recipients(tenant.organisation, 1, start=1, time_zone="Europe/London")
    smtp_config(tenant.organisation, smtp_sink)
    now = timezone.now()
    # A one-hour window that is open right now in London and closed in Auckland (+11/+13 h).
    london = now.astimezone(ZoneInfo("Europe/London"))
    start = time(london.hour, 0)
    end = time((london.hour + 1) % 24, 0)
    built = sending_campaign(tenant.organisation, window_start=start, window_end=end)
    now = timezone.now()
    schedule_fan_out(schedule_id=built.schedule.pk, now=now)
    send_until_idle()
    waiting = Delivery.objects.get(state="queued")
    assert waiting.recipient.time_zone == "Pacific/Auckland"
    local = waiting.next_attempt_at.astimezone(ZoneInfo(
        "Pacific/Auckland"))
    assert (local.hour, local.minute) == (start.hour, 0)
    assert waiting.next_attempt_at > now
    assert list(smtp_sink.recorder.per_recipient()) == [email_address(1)]


def test_a_campaign_is_paused_when_its_error_rate_crosses_the_threshold(tenant, smtp_sink,
                                                                       settings):
    settings.DELIVERY_AUTO_PAUSE_MIN_SAMPLE = 10
    settings.DELIVERY_AUTO_PAUSE_ERROR_RATE = 0.5
    recipients(tenant.organisation, 40)
    built = sending_campaign(tenant.organisation)
    smtp_config(tenant.organisation, smtp_sink)
    schedule_fan_out(schedule_id=built.schedule.pk, now=timezone.now())
    smtp_sink.recorder.rejected_addresses = {email_address(n) for n in range(40)}
    send_until_idle(batch=10)
    built.campaign.refresh_from_db()
    assert built.campaign.status == "paused"
    assert Delivery.objects.filter(state="queued").exists()  # the rest wait for a resume


def test_a_recipient_erased_after_fan_out_is_not_sent_to(tenant, smtp_sink):
    recipients(tenant.organisation, 2)
    built = sending_campaign(tenant.organisation)
    smtp_config(tenant.organisation, smtp_sink)
    schedule_fan_out(schedule_id=built.schedule.pk, now=timezone.now())
    from segments.recipients import recipient_erase

    recipient_erase(recipient=Recipient.objects.order_by("pk").first(), actor=Actor.system())
    send_until_idle()
    assert sorted(states(built.campaign).items()) == [("sent", 1), ("skipped", 1)]


def test_the_bulk_assigner_agrees_with_assign_arm_for_every_subject(tenant):
    from decimal import Decimal

    from campaigns.assignment import arm_assigner, assign_arm
    from campaigns.models import Arm
    from core.pseudonyms import Pseudonym

    built = sending_campaign(tenant.organisation)
    Arm.objects.create(campaign=built.campaign, name="legal", weight=Decimal("0.3333"))
    Arm.objects.create(campaign=built.campaign, name="unused", weight=0)
    Arm.objects.create(campaign=built.campaign, name="holdout", kind="holdout",
                       weight=Decimal("0.1"))
    campaign = type(built.campaign).objects.prefetch_related("arms").get(pk=built.campaign.pk)
    now = timezone.now()
    assign = arm_assigner(campaign=campaign, at=now)
    subjects = [Pseudonym("2026-11", f"{n:064x}") for n in range(0, 4000 * 7919, 7919)]
    assert all(assign(s) == assign_arm(campaign=campaign, subject=s, at=now) for s in subjects)
    assert {assign(s).name for s in subjects} == {"supportive", "legal", "holdout"}


def test_batch_opt_out_links_are_the_segments_apps_links(tenant):
    from segments.optout import OptOutLinks, opt_out_url

    recipients(tenant.organisation, 4)
    people = list(Recipient.objects.filter(organisation=tenant.organisation))
    links = OptOutLinks()
    for channel in ("email", "sms", "email"):
        for person in people:
            assert links.url(recipient=person, channel=channel) == opt_out_url(
                recipient=person, channel=channel)
    assert links.url(recipient=people[0], channel="webhook") == ""


def test_a_chunk_in_flight_is_still_recorded_when_the_next_check_fails(tenant, smtp_sink,
                                                                      settings, monkeypatch):
    """Chunk k+1 is sent while chunk k is recorded; if the batch then stops on an error (Redis
    gone at the rate-limit check), what was sent is recorded and the rest goes back."""
    from delivery import ratelimit

    settings.DELIVERY_FLUSH_SIZE = 4
    recipients(tenant.organisation, 12)
    built = sending_campaign(tenant.organisation)
    smtp_config(tenant.organisation, smtp_sink)
    schedule_fan_out(schedule_id=built.schedule.pk, now=timezone.now())
    calls = {"n": 0}
    real_acquire = ratelimit.acquire

    def acquire(*args, **kwargs):  # type: ignore[no-untyped-def]
        calls["n"] += 1
        if calls["n"] == 3:
            raise ConnectionError("redis went away")
        return real_acquire(*args, **kwargs)

    monkeypatch.setattr(ratelimit, "acquire", acquire)
    with pytest.raises(ConnectionError):
        send_until_idle()
    assert states(built.campaign) == {"sent": 8, "queued": 4}
    assert len(smtp_sink.recorder.accepted) == 8
    assert Exposure.objects.filter(campaign=built.campaign).count() == 8
    monkeypatch.setattr(ratelimit, "acquire", real_acquire)
    assert send_until_idle().sent == 4
    assert len(smtp_sink.recorder.accepted) == 12 and states(built.campaign) == {"sent": 12}


def test_the_sweeper_counts_a_lapsed_lease_as_an_attempt_an_operator_can_see(tenant):
    recipients(tenant.organisation, 3)
    built = sending_campaign(tenant.organisation)
    schedule_fan_out(schedule_id=built.schedule.pk, now=timezone.now())
    now = timezone.now()
    claimed = deliveries_claim(limit=3, worker_id="killed-worker", now=now)
    assert deliveries_sweep(now=now + timedelta(hours=1)) == 3
    rows = Delivery.objects.filter(pk__in=claimed)
    assert set(rows.values_list("state", "attempts")) == {("queued", 1)}
    lapsed = DeliveryAttempt.objects.filter(delivery__in=claimed)
    assert set(lapsed.values_list("number", "outcome")) == {(1, "lapsed")}
    assert "same Message-ID" in lapsed.first().reason


def test_a_claimed_row_holds_a_short_lease_that_a_live_batch_renews(tenant, smtp_sink,
                                                                   settings, monkeypatch):
    """A killed worker's rows come back after one short lease, not a long one; a live batch
    that sends for longer than half its sending time renews its rows and finishes them all."""
    from delivery import ratelimit

    settings.DELIVERY_LEASE_SECONDS = 4
    settings.DELIVERY_LEASE_MARGIN_SECONDS = 1
    settings.DELIVERY_FLUSH_SIZE = 2
    recipients(tenant.organisation, 8)
    built = sending_campaign(tenant.organisation)
    smtp_config(tenant.organisation, smtp_sink)
    schedule_fan_out(schedule_id=built.schedule.pk, now=timezone.now())
    before = timezone.now()
    leases: list = []
    real_acquire = ratelimit.acquire

    def slow_acquire(*args, **kwargs):  # type: ignore[no-untyped-def]
        leases.append(max(Delivery.objects.filter(state="sending")
                          .values_list("lease_expires_at", flat=True)))
        real_acquire(*args, **kwargs)
        return 0.9  # the channel makes each chunk wait: the batch outlives half its lease

    monkeypatch.setattr(ratelimit, "acquire", slow_acquire)
    report = send_until_idle(batch=8)
    assert report.sent == 8 and report.released == 0
    assert states(built.campaign) == {"sent": 8}
    assert leases[0] <= before + timedelta(seconds=5)  # claimed with the short lease
    assert leases[-1] > leases[0]  # and renewed while the batch was alive
    assert not DeliveryAttempt.objects.exists()


def test_a_batch_whose_rows_were_taken_over_stops_at_the_next_renewal(tenant, smtp_sink,
                                                                     settings, monkeypatch):
    from delivery import ratelimit

    settings.DELIVERY_LEASE_SECONDS = 4
    settings.DELIVERY_LEASE_MARGIN_SECONDS = 1
    settings.DELIVERY_FLUSH_SIZE = 2
    recipients(tenant.organisation, 6)
    built = sending_campaign(tenant.organisation)
    smtp_config(tenant.organisation, smtp_sink)
    schedule_fan_out(schedule_id=built.schedule.pk, now=timezone.now())
    real_acquire = ratelimit.acquire

    def acquire_then_lose_a_row(*args, **kwargs):  # type: ignore[no-untyped-def]
        real_acquire(*args, **kwargs)
        waiting = Delivery.objects.filter(state="sending").order_by("pk").last()
        Delivery.objects.filter(pk=waiting.pk).update(claimed_by="another-worker")
        return 1.6  # past the renewal point at the next chunk

    monkeypatch.setattr(ratelimit, "acquire", acquire_then_lose_a_row)
    send_until_idle(max_batches=1, batch=6)
    assert Delivery.objects.filter(claimed_by="another-worker", state="sending").exists()
    assert len(smtp_sink.recorder.accepted) < 6  # it stopped instead of sending their rows
