"""Delivery tunables: a Django setting wins, then an environment variable, then the default.

Kept here (not in outreach/settings.py) so the delivery engine's knobs live beside the code that
reads them; tests and benchmarks set them through the environment of the worker processes.
"""

from __future__ import annotations

import os

from django.conf import settings

_DEFAULTS: dict[str, float] = {
    # Beat: how often `delivery.tick` fans out due steps, sweeps leases and starts send lanes.
    "DELIVERY_TICK_SECONDS": 2.0,
    # A claimed row belongs to its worker for this long unless the live batch renews it (it
    # does, halfway through its sending time); after a kill the sweeper re-queues it then.
    "DELIVERY_LEASE_SECONDS": 20.0,
    # Stop sending from a batch this long before its lease ends (and hand the rest back).
    "DELIVERY_LEASE_MARGIN_SECONDS": 10.0,
    # Rows claimed at once: each batch pays a few queries, a render and a connection.
    "DELIVERY_BATCH_SIZE": 500.0,
    # Outcomes are recorded (sent + exposure, one transaction) after at most this many sends.
    "DELIVERY_FLUSH_SIZE": 25.0,
    # Parallel send loops across all workers; each is one task that loops for LANE_SECONDS.
    "DELIVERY_SEND_LANES": 2.0,
    "DELIVERY_LANE_SECONDS": 5.0,
    "DELIVERY_MAX_ATTEMPTS": 8.0,
    "DELIVERY_RETRY_BASE_SECONDS": 30.0,
    "DELIVERY_RETRY_MAX_SECONDS": 3600.0,
    # Auto-pause: pause a campaign once this share of its finished sends failed ...
    "DELIVERY_AUTO_PAUSE_ERROR_RATE": 0.25,
    # ... but only after this many finished sends (a few early failures are not a trend).
    "DELIVERY_AUTO_PAUSE_MIN_SAMPLE": 100.0,
    # A rate-limit wait longer than this is not slept: the rows go back with a later due time.
    "DELIVERY_MAX_RATE_WAIT_SECONDS": 2.0,
    # Health: a heartbeat task older than this means tasks are not completing.
    "DELIVERY_HEARTBEAT_STALE_SECONDS": 120.0,
    "DELIVERY_HTTP_TIMEOUT_SECONDS": 10.0,
    # SMS and webhook requests of a chunk in flight at once, per send lane (keep-alive each).
    "DELIVERY_HTTP_CONCURRENCY": 8.0,
}


def setting(name: str) -> float:
    if hasattr(settings, name):
        return float(getattr(settings, name))
    return float(os.environ.get(name, _DEFAULTS[name]))


def int_setting(name: str) -> int:
    return int(setting(name))


def text_setting(name: str, default: str = "") -> str:
    value = getattr(settings, name, None)
    if value is None:
        value = os.environ.get(name, default)
    return str(value or "")
