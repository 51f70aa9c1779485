"""Operating the engine: worker health from heartbeats, and the demo's email channel."""

from __future__ import annotations

import pytest

from delivery.demo import seed_demo
from delivery.health import WorkersStale, check_workers, workers_status
from delivery.tasks import heartbeat

pytestmark = pytest.mark.django_db


def test_health_reports_stale_queues_and_fails_only_when_workers_are_required(settings):
    status = workers_status()
    assert {state["status"] for state in status.values()} == {"stale"}
    check_workers()  # a web process without workers is still healthy by default
    settings.HEALTH_REQUIRE_WORKERS = True
    with pytest.raises(WorkersStale):
        check_workers()
    for queue in status:
        heartbeat(queue)  # what a worker does when the beat's heartbeat task reaches it
    check_workers()
    assert {state["status"] for state in workers_status().values()} == {"ok"}


def test_the_demo_points_email_at_the_local_sink_and_is_idempotent(tenant):
    first = seed_demo(organisation=tenant.organisation)
    second = seed_demo(organisation=tenant.organisation)
    assert first.pk == second.pk and first.settings["port"] == 1025
