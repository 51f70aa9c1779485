"""Thin Celery tasks for evaluation: roll up, purge, destroy expired keys. Safe to run twice.

The rollup claims rows by their ``rolled_up_at`` marker inside one transaction per batch,
so a killed worker loses nothing (its batch rolls back and is claimed again) and two
overlapping runs never count a row twice (PostgreSQL: SKIP LOCKED plus an advisory lock).
"""

from __future__ import annotations

import logging

from celery import shared_task
from celery.schedules import crontab

from evaluation import retention
from evaluation.rollup import rollup_pending

logger = logging.getLogger(__name__)


@shared_task(name="evaluation.rollup", queue="evaluation", acks_late=True, ignore_result=True,
             soft_time_limit=240, time_limit=300)
def rollup() -> dict[str, int]:
    # Bounded: at most 20 batches of 100k rows per run; the next minute picks up the rest.
    result = rollup_pending(batch_size=100_000, max_batches=20)
    if result.exposures or result.outcomes:
        logger.info("rolled up %d exposures and %d outcomes", result.exposures, result.outcomes)
    return {"exposures": result.exposures, "outcomes": result.outcomes}


@shared_task(name="evaluation.purge_expired_raw_events", queue="evaluation", acks_late=True,
             ignore_result=True, soft_time_limit=1800, time_limit=1900)
def purge_expired_raw_events() -> int:
    summary = retention.purge_expired_raw_events()
    return sum(c["exposures"] + c["outcomes"] for c in summary.values())


@shared_task(name="evaluation.destroy_expired_pseudonym_keys", queue="evaluation",
             acks_late=True, ignore_result=True, soft_time_limit=60, time_limit=90)
def destroy_expired_pseudonym_keys() -> list[str]:
    return retention.destroy_expired_pseudonym_keys()


BEAT_SCHEDULE = {
    "evaluation-rollup": {"task": "evaluation.rollup", "schedule": 60.0,
                          "options": {"queue": "evaluation", "expires": 55}},
    "evaluation-purge": {"task": "evaluation.purge_expired_raw_events",
                         "schedule": crontab(hour=3, minute=17),
                         "options": {"queue": "evaluation"}},
    "evaluation-destroy-keys": {"task": "evaluation.destroy_expired_pseudonym_keys",
                                "schedule": crontab(hour=3, minute=47),
                                "options": {"queue": "evaluation"}},
}
