"""Thin Celery tasks for learning: purge old mentoring requests, flag law modules whose
directory sources changed, send a lost link anew. All are idempotent (safe to run twice or
concurrently)."""

from __future__ import annotations

from celery import shared_task
from celery.schedules import crontab

from learning import law, learners, resume


@shared_task(name="learning.mentoring_requests_purge", queue="maintenance", acks_late=True,
             ignore_result=True, soft_time_limit=120, time_limit=150)
def mentoring_requests_purge() -> int:
    return learners.mentoring_requests_purge()


@shared_task(name="learning.law_modules_check", queue="maintenance", acks_late=True,
             ignore_result=True, soft_time_limit=240, time_limit=300)
def law_modules_check() -> int:
    return len(law.law_modules_check())


@shared_task(name="learning.new_links_send", acks_late=True, ignore_result=True,
             soft_time_limit=60, time_limit=90)
def new_links_send(module_id: int, index: str, request_id: str) -> int:
    return resume.new_links_send(module_id=module_id, index=index, request_id=request_id)


BEAT_SCHEDULE = {
    "learning-mentoring-purge": {"task": "learning.mentoring_requests_purge",
                                 "schedule": crontab(minute=40, hour=3),
                                 "options": {"queue": "maintenance"}},
    "learning-law-modules-check": {"task": "learning.law_modules_check",
                                   "schedule": crontab(minute=10),
                                   "options": {"queue": "maintenance"}},
}
