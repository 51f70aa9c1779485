"""Health: prove that workers complete tasks, not merely that a worker process exists.

Beat sends `delivery.heartbeat` to each delivery queue every 30 s; a worker that runs it writes
the time into the cache. `workers_status()` reports each queue's age; `check_workers()` (for
outreach.health.CHECKS) raises when a queue's last completed heartbeat is older than
DELIVERY_HEARTBEAT_STALE_SECONDS — but only when settings.HEALTH_REQUIRE_WORKERS is true, so a
web process without workers (tests, the first minute of a demo) still answers 200 and shows the
queues as "stale" in workers_status().
"""

from __future__ import annotations

import time

from django.conf import settings
from django.core.cache import cache

from delivery.tasks import HEARTBEAT_KEY, QUEUES


class WorkersStale(RuntimeError):
    """No worker has completed a heartbeat task on some queue recently."""


def workers_status(*, now: float | None = None) -> dict[str, dict]:
    now = time.time() if now is None else now
    limit = settings.DELIVERY_HEARTBEAT_STALE_SECONDS
    status: dict[str, dict] = {}
    for queue in QUEUES:
        beat = cache.get(HEARTBEAT_KEY.format(queue=queue))
        age = None if beat is None else round(now - float(beat), 1)
        fresh = age is not None and age <= limit
        status[queue] = {"status": "ok" if fresh else "stale", "age_seconds": age}
    return status


def check_workers() -> None:
    stale = [queue for queue, state in workers_status().items() if state["status"] != "ok"]
    if stale and getattr(settings, "HEALTH_REQUIRE_WORKERS", False):
        raise WorkersStale(f"no completed heartbeat on: {', '.join(stale)}")
