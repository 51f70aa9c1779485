"""Thin Celery tasks: they take ids (or nothing), call a service, and are safe to run twice.

Queues: "fanout" (audience freezing), "send" (send lanes), "maintenance" (tick, sweeper,
heartbeats). Every task is acks_late (a killed worker's task is redelivered, not lost) and has
soft < hard time limits far below the broker's visibility timeout (3600 s). Nothing here relies
on the broker for correctness: the tick rebuilds any lost work from the database.
"""

from __future__ import annotations

import logging
import time
import uuid

from celery import shared_task
from django.conf import settings
from django.core.cache import cache
from django.utils import timezone

from delivery.fanout import schedule_fan_out, schedules_due
from delivery.lanes import LANE_TTL, due_work_exists, lane_key, lane_run
from delivery.services import deliveries_sweep

logger = logging.getLogger(__name__)

QUEUES = ("fanout", "send", "maintenance")
HEARTBEAT_KEY = "delivery:heartbeat:{queue}"


@shared_task(name="delivery.tick", queue="maintenance", acks_late=True, ignore_result=True,
             soft_time_limit=60, time_limit=90)
def tick() -> None:
    """Sweep expired leases, start fan-outs of due steps, and start send lanes if work is due."""
    now = timezone.now()
    deliveries_sweep(now=now)
    for schedule_id in schedules_due(now=now):
        # One fan-out at a time per step; a duplicate would find the row locked and stop anyway.
        if cache.add(f"delivery:fanout:{schedule_id}", 1, timeout=30):
            fan_out.delay(schedule_id)
    if due_work_exists(now=now):
        lanes_start()


def lanes_start() -> int:
    """Start every lane that is not running (its key is missing). Returns how many started."""
    started = 0
    for lane in range(max(settings.DELIVERY_SEND_LANES, 1)):
        token = uuid.uuid4().hex
        if cache.add(lane_key(lane), token, timeout=LANE_TTL):
            send_lane.delay(lane, token)
            started += 1
    return started


@shared_task(name="delivery.fan_out", queue="fanout", acks_late=True, ignore_result=True,
             soft_time_limit=900, time_limit=960)
def fan_out(schedule_id: int) -> None:
    try:
        result = schedule_fan_out(schedule_id=schedule_id, now=timezone.now())
    finally:
        cache.delete(f"delivery:fanout:{schedule_id}")
    if result is not None and result.rows:
        lanes_start()  # committed: schedule_fan_out is its own transaction


@shared_task(name="delivery.send_lane", queue="send", acks_late=True, ignore_result=True,
             soft_time_limit=120, time_limit=150)
def send_lane(lane: int, token: str) -> None:
    totals, more = lane_run(lane=lane, token=token)
    if totals.sent or totals.failed:
        logger.info("lane %s: sent %s, retried %s, failed %s, skipped %s", lane, totals.sent,
                    totals.retried, totals.failed, totals.skipped)
    if more:
        send_lane.delay(lane, token)


@shared_task(name="delivery.heartbeat", acks_late=True, ignore_result=True,
             soft_time_limit=10, time_limit=20)
def heartbeat(queue: str) -> None:
    """Proves that a worker consuming `queue` completes tasks (read by delivery/health.py)."""
    cache.set(HEARTBEAT_KEY.format(queue=queue), time.time(), timeout=24 * 3600)


@shared_task(name="delivery.probe", queue="send", acks_late=True, ignore_result=True)
def probe(counter: str) -> None:
    """Does nothing but count itself: the bare Celery round trip the benchmark compares with."""
    cache.incr(counter)


BEAT_SCHEDULE = {
    "delivery-tick": {"task": "delivery.tick", "schedule": settings.DELIVERY_TICK_SECONDS,
                      "options": {"queue": "maintenance", "expires": 30}},
    **{
        f"delivery-heartbeat-{queue}": {
            "task": "delivery.heartbeat", "schedule": 30.0, "args": (queue,),
            "options": {"queue": queue, "expires": 60},
        }
        for queue in QUEUES
    },
}
