"""Thin periodic tasks for the helpline. Each is safe to run twice or late."""

from __future__ import annotations

from celery import shared_task
from celery.schedules import crontab

from helpline import pacing, retention, safeguarding, services


@shared_task(name="helpline.housekeeping", queue="maintenance", ignore_result=True,
             soft_time_limit=50, time_limit=60)
def housekeeping() -> dict[str, int]:
    """Re-raise overdue safeguarding flags; a waiting page gone quiet has left the queue."""
    return {"reraised": safeguarding.flags_reraise_overdue(),
            "abandoned": services.abandon_stale_waiting()}


@shared_task(name="helpline.pacing", queue="maintenance", ignore_result=True,
             soft_time_limit=50, time_limit=60)
def pace_campaigns() -> int:
    return len(pacing.pacing_refresh())


@shared_task(name="helpline.purge", queue="maintenance", ignore_result=True,
             soft_time_limit=1800, time_limit=1900)
def purge() -> int:
    return retention.conversations_purge_expired()


BEAT_SCHEDULE = {
    "helpline-housekeeping": {"task": "helpline.housekeeping", "schedule": 30.0},
    "helpline-pacing": {"task": "helpline.pacing", "schedule": 60.0},
    "helpline-purge": {"task": "helpline.purge", "schedule": crontab(minute=40, hour=3)},
}
