"""Fault tests with real processes: Celery workers and beat, a private redis-server, the
PostgreSQL test database and an in-process SMTP server that records every Message-ID.

The property under test: every person gets exactly one distinct message and nobody is missed,
whatever happens to workers, the broker or the provider. A message the SMTP server accepted at
the instant of a kill may be transmitted again, with the same Message-ID; the tests report how
many such re-transmissions happened and check they never exceed the sends in flight at the kill.
"""

from __future__ import annotations

import shutil

import pytest
from django.db.models import Count

from campaigns.lifecycle import campaign_pause, campaign_resume
from delivery.models import Delivery, DeliveryAttempt
from organisations.services import Actor
from segments.models import Suppression
from tests.delivery.factories import (
    channel_config,
    email_address,
    help_resource,
    recipients,
    sending_campaign,
)
from tests.delivery.sinks import SmtpSink
from tests.delivery.workers import RedisServer, beat, wait_for, worker, worker_env

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def stack(postgres, redis_url):  # type: ignore[no-untyped-def]
    """A private redis-server and an SMTP sink; workers and beat are started by the test."""
    if shutil.which("redis-server") is None:
        pytest.skip("redis-server is not installed")
    redis = RedisServer()
    redis.start()
    processes: list = []
    with SmtpSink() as sink:
        sink.recorder.keep_headers = False
        sink.recorder.pipelining = True  # the fast path, as large providers offer it
        yield redis, sink, processes
        for process in processes:
            process.stop()
    redis.stop()


def start(processes: list, *new) -> None:  # type: ignore[no-untyped-def]
    for process in new:
        process.start()
        processes.append(process)


def prepared(tenant, sink, count: int):  # type: ignore[no-untyped-def]
    recipients(tenant.organisation, count)
    help_resource(tenant.organisation)
    channel_config(tenant.organisation, settings={"host": "127.0.0.1", "port": sink.port})
    return sending_campaign(tenant.organisation)


def finished(campaign, count: int) -> bool:  # type: ignore[no-untyped-def]
    """All `count` rows exist (fan-out ran) and none is waiting or being sent."""
    rows = Delivery.objects.filter(campaign=campaign)
    return rows.count() == count and not rows.filter(state__in=["queued", "sending"]).exists()


def states(campaign) -> dict[str, int]:  # type: ignore[no-untyped-def]
    rows = Delivery.objects.filter(campaign=campaign).values("state").annotate(n=Count("id"))
    return {row["state"]: row["n"] for row in rows}


def assert_exactly_one_message_each(sink, count: int, *, skip: set[str] = frozenset()) -> int:  # type: ignore[no-untyped-def]
    """Every expected address has exactly one distinct Message-ID. Returns re-transmissions."""
    received = sink.recorder.per_recipient()
    expected = {email_address(n) for n in range(count)} - skip
    assert set(received) == expected, (
        f"missing {len(expected - set(received))}, unexpected {len(set(received) - expected)}")
    several = {rcpt: ids for rcpt, ids in received.items() if len(ids) != 1}
    assert not several, f"{len(several)} people got more than one distinct message"
    return len(sink.recorder.accepted) - len(received)


def test_a_worker_killed_mid_send_loses_and_duplicates_nobody(tenant, stack, capsys):
    redis, sink, processes = stack
    built = prepared(tenant, sink, 5000)
    env = worker_env(redis)
    first = worker(env, "w1")
    start(processes, beat(env), first)
    wait_for(lambda: len(sink.recorder.accepted) >= 1500, timeout=180,
             what="1,500 messages to reach the SMTP server")
    first.kill_hard()
    in_flight = Delivery.objects.filter(campaign=built.campaign, state="sending").count()
    at_kill = len(sink.recorder.accepted)
    start(processes, worker(env, "w2"))
    wait_for(lambda: finished(built.campaign, 5000), timeout=240, what="all 5,000 to be sent")
    assert states(built.campaign) == {"sent": 5000}
    retransmissions = assert_exactly_one_message_each(sink, 5000)
    assert retransmissions <= in_flight
    with capsys.disabled():
        print(f"\n  kill -9 after {at_kill} accepted: {in_flight} sends in flight, "
              f"{retransmissions} re-transmitted with the same Message-ID")


def test_a_redis_restart_mid_send_loses_and_duplicates_nobody(tenant, stack, capsys):
    redis, sink, processes = stack
    built = prepared(tenant, sink, 1500)
    env = worker_env(redis)
    start(processes, beat(env), worker(env, "w1"))
    wait_for(lambda: len(sink.recorder.accepted) >= 300, timeout=120,
             what="300 messages to reach the SMTP server")
    redis.restart()  # broker queues, lane keys and rate buckets are all gone
    at_restart = len(sink.recorder.accepted)
    wait_for(lambda: finished(built.campaign, 1500), timeout=180, what="all 1,500 to be sent")
    assert states(built.campaign) == {"sent": 1500}
    retransmissions = assert_exactly_one_message_each(sink, 1500)
    assert retransmissions == 0
    with capsys.disabled():
        print(f"\n  redis restarted after {at_restart} accepted: resumed, "
              f"{retransmissions} re-transmissions")


def test_two_worker_nodes_ride_out_a_redis_restart_by_themselves(tenant, stack, capsys):
    """Redis goes away for ~3 s mid-send under two worker nodes. Neither node may exit (the
    Celery 5.7.0 reconnect path killed both main processes every time): nobody restarts a
    worker from outside here, and every message is still sent exactly once."""
    redis, sink, processes = stack
    built = prepared(tenant, sink, 5000)
    env = worker_env(redis)
    nodes = [worker(env, "w1"), worker(env, "w2")]
    start(processes, beat(env), *nodes)
    wait_for(lambda: len(sink.recorder.accepted) >= 1000, timeout=180,
             what="1,000 messages to reach the SMTP server")
    redis.restart(down_seconds=3)
    at_restart = len(sink.recorder.accepted)
    wait_for(lambda: finished(built.campaign, 5000) or not all(n.running for n in nodes),
             timeout=240, what="all 5,000 to be sent")
    dead = [node.name for node in nodes if not node.running]
    assert not dead, f"worker nodes exited after the restart: {dead}\n{nodes[0].output()}"
    assert states(built.campaign) == {"sent": 5000}
    retransmissions = assert_exactly_one_message_each(sink, 5000)
    with capsys.disabled():
        print(f"\n  redis down 3 s after {at_restart} accepted, two nodes: both kept running, "
              f"{retransmissions} re-transmissions")


def test_451s_are_retried_until_accepted_and_a_550_fails_and_is_suppressed(tenant, stack):
    redis, sink, processes = stack
    built = prepared(tenant, sink, 300)
    sink.recorder.temporary_failures = 150
    sink.recorder.rejected_addresses = {email_address(7)}
    env = worker_env(redis)
    start(processes, beat(env), worker(env, "w1"))
    wait_for(lambda: finished(built.campaign, 300), timeout=180, what="all 300 to finish")
    assert states(built.campaign) == {"sent": 299, "failed": 1}
    assert_exactly_one_message_each(sink, 300, skip={email_address(7)})
    retries = DeliveryAttempt.objects.filter(outcome="retry")
    assert retries.count() == 150
    assert set(retries.values_list("reason", flat=True)) == {"smtp 451 4.3.0 try again later"}
    failed = Delivery.objects.get(state="failed")
    assert failed.reason == "smtp 550 5.1.1 mailbox unavailable"
    assert Suppression.objects.filter(recipient=failed.recipient, reason="bounced").exists()


def test_pause_stops_sending_and_resume_sends_everyone_else_exactly_once(tenant, stack, capsys):
    redis, sink, processes = stack
    built = prepared(tenant, sink, 2000)
    env = worker_env(redis)
    start(processes, beat(env), worker(env, "w1"))
    wait_for(lambda: len(sink.recorder.accepted) >= 300, timeout=120,
             what="300 messages to reach the SMTP server")
    manager = Actor(user=tenant.manager)
    campaign_pause(campaign=built.campaign, actor=manager)
    at_pause = len(sink.recorder.accepted)
    settled = _stops_growing(sink)
    waiting = Delivery.objects.filter(campaign=built.campaign, state="queued").count()
    assert waiting > 0 and not Delivery.objects.filter(state="sending").exists()
    built.campaign.refresh_from_db()
    campaign_resume(campaign=built.campaign, actor=manager)
    wait_for(lambda: finished(built.campaign, 2000), timeout=180, what="all 2,000 to be sent")
    assert states(built.campaign) == {"sent": 2000}
    assert assert_exactly_one_message_each(sink, 2000) == 0
    with capsys.disabled():
        print(f"\n  paused at {at_pause} accepted; {settled - at_pause} more finished their "
              f"batch; {waiting} waited; resume sent them all exactly once")


def _stops_growing(sink) -> int:  # type: ignore[no-untyped-def]
    """Wait until the SMTP server has received nothing new for two seconds."""
    import time

    last, still_since = len(sink.recorder.accepted), time.monotonic()
    while time.monotonic() - still_since < 2:
        time.sleep(0.1)
        now = len(sink.recorder.accepted)
        if now != last:
            last, still_since = now, time.monotonic()
    return last
