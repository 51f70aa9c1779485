from __future__ import annotations

import time
import uuid

import pytest
from django.conf import settings
from django.core.cache import cache
from django.utils import timezone

from delivery.sending import BatchReport, deliveries_send
from delivery.services import deliveries_claim
from tests.delivery.sinks import HttpSink, SmtpSink


@pytest.fixture(params=["one-by-one", "pipelined"])
def smtp_sink(request):  # type: ignore[no-untyped-def]
    """An SMTP server with and without PIPELINING: the engine sends differently to each."""
    with SmtpSink() as sink:
        sink.recorder.pipelining = request.param == "pipelined"
        yield sink


@pytest.fixture
def http_sink():  # type: ignore[no-untyped-def]
    with HttpSink() as sink:
        yield sink


@pytest.fixture(autouse=True)
def _fresh_cache() -> None:
    cache.clear()


def send_until_idle(max_batches: int = 100, batch: int = 50) -> BatchReport:
    """What a send lane does, in-process: claim and send until nothing is due."""
    totals = BatchReport()
    for _ in range(max_batches):
        worker_id = f"test:{uuid.uuid4().hex[:8]}"
        claimed_at = time.monotonic()
        ids = deliveries_claim(limit=batch, worker_id=worker_id, now=timezone.now())
        if not ids:
            break
        report = deliveries_send(ids=ids, worker_id=worker_id,
                                 lease_deadline=claimed_at + settings.DELIVERY_LEASE_SECONDS)
        for name in ("sent", "retried", "failed", "skipped", "released", "lost"):
            setattr(totals, name, getattr(totals, name) + getattr(report, name))
    return totals
