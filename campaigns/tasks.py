"""Thin periodic work for campaigns: start campaigns whose flight began, complete finished ones."""

from __future__ import annotations

from celery import shared_task

from campaigns.lifecycle import campaign_sweep

BEAT_SCHEDULE = {
    "campaigns-sweep": {"task": "campaigns.tasks.campaigns_sweep", "schedule": 60.0},
}


@shared_task(acks_late=True, soft_time_limit=50, time_limit=55)
def campaigns_sweep() -> dict[str, int]:
    """Idempotent: each transition is a conditional UPDATE, so overlapping runs are harmless."""
    return campaign_sweep()
