"""Send lanes: a bounded number of looping send tasks shared by all workers.

A lane is one `delivery.send_lane` task that claims and sends batches for up to
DELIVERY_LANE_SECONDS, then re-enqueues itself if work remains. Each lane owns a cache key
holding a random token, refreshed every batch and expiring after LANE_TTL: the tick starts a
lane whose key is missing (never started, finished, or its task died with its worker or its
broker message was lost). A lane whose key now holds another token stops, so restarts never
multiply lanes. Keeping lanes few and long-lived is what makes the rate high; keeping each task
short (seconds) keeps it far below the time limits and the broker's visibility timeout.
"""

from __future__ import annotations

import logging
import os
import socket
import time
import uuid

from django.conf import settings
from django.core.cache import cache
from django.utils import timezone

from delivery.models import ACTIVE_CAMPAIGN_STATUSES, Delivery, DeliveryState
from delivery.sending import BatchReport, deliveries_send
from delivery.services import deliveries_claim

logger = logging.getLogger(__name__)

LANE_TTL = 20  # seconds without a heartbeat before the tick restarts a lane


def lane_key(lane: int) -> str:
    return f"delivery:lane:{lane}"


def due_work_exists(*, now=None) -> bool:  # type: ignore[no-untyped-def]
    return Delivery.objects.filter(
        state=DeliveryState.QUEUED, next_attempt_at__lte=now or timezone.now(),
        campaign__status__in=ACTIVE_CAMPAIGN_STATUSES).exists()


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def lane_run(*, lane: int, token: str) -> tuple[BatchReport, bool]:
    """Claim and send batches until none are due or the lane's time is up.

    Returns the totals and whether the lane should continue (work remained).
    """
    totals = BatchReport()
    if cache.get(lane_key(lane)) != token:
        return totals, False  # a stale duplicate: another task owns this lane now
    ends = time.monotonic() + settings.DELIVERY_LANE_SECONDS
    batch_size = settings.DELIVERY_BATCH_SIZE
    while time.monotonic() < ends:
        worker_id = f"{worker_name()}:{uuid.uuid4().hex[:12]}"
        claimed_at = time.monotonic()
        ids = deliveries_claim(limit=batch_size, worker_id=worker_id, now=timezone.now())
        if not ids:
            cache.delete(lane_key(lane)) if cache.get(lane_key(lane)) == token else None
            return totals, False
        report = deliveries_send(ids=ids, worker_id=worker_id,
                                 lease_deadline=claimed_at + settings.DELIVERY_LEASE_SECONDS)
        _add(totals, report)
        if cache.get(lane_key(lane)) != token:
            return totals, False
        cache.touch(lane_key(lane), LANE_TTL)
    return totals, True


def _add(totals: BatchReport, report: BatchReport) -> None:
    for name in ("sent", "retried", "failed", "skipped", "released", "lost"):
        setattr(totals, name, getattr(totals, name) + getattr(report, name))
