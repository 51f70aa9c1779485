"""The Celery app. Beat schedules are defined in code by each app (`BEAT_SCHEDULE` in tasks)."""

from __future__ import annotations

import logging
import os
from datetime import timedelta

from celery import Celery
from celery.signals import after_setup_logger

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "outreach.settings")

app = Celery("outreach")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@app.on_after_finalize.connect
def _collect_beat_schedules(sender: Celery, **kwargs: object) -> None:
    """Merge each app's BEAT_SCHEDULE so periodic work is declared beside its task."""
    # Imported here: this module is imported by outreach/__init__ before Django is set up.
    from campaigns.tasks import BEAT_SCHEDULE as campaigns_schedule
    from delivery.tasks import BEAT_SCHEDULE as delivery_schedule
    from evaluation.tasks import BEAT_SCHEDULE as evaluation_schedule
    from helpline.tasks import BEAT_SCHEDULE as helpline_schedule
    from learning.tasks import BEAT_SCHEDULE as learning_schedule

    for schedule in (campaigns_schedule, delivery_schedule, evaluation_schedule,
                     helpline_schedule, learning_schedule):
        sender.conf.beat_schedule.update(schedule)


# Routine periodic tasks (the 2-second delivery tick, heartbeats, minute sweeps) would flood
# the log with "sending / received / succeeded" lines: ~11,000 in two hours of the demo. Their
# INFO lines are dropped; warnings and errors (a failed or retried tick) still show.
ROUTINE_BELOW = timedelta(minutes=5)


class QuietRoutineTasks(logging.Filter):
    def __init__(self, celery: Celery) -> None:
        super().__init__()
        self.celery = celery
        self.names: frozenset[str] | None = None

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno > logging.INFO or not record.name.startswith("celery"):
            return True
        if self.names is None:  # the schedules are merged once the app is finalised
            self.names = routine_task_names(self.celery.conf.beat_schedule)
        message = record.getMessage()
        return not any(name in message for name in self.names)


def routine_task_names(schedule: dict) -> frozenset[str]:
    names = set()
    for entry in schedule.values():
        every = entry["schedule"]
        every = getattr(every, "run_every", every)  # celery schedule objects, crontab has none
        if isinstance(every, int | float):
            every = timedelta(seconds=every)
        if isinstance(every, timedelta) and every < ROUTINE_BELOW:
            names.add(entry["task"])
    return frozenset(names)


@after_setup_logger.connect
def _quiet_routine_tasks(logger: logging.Logger, **kwargs: object) -> None:
    quiet = QuietRoutineTasks(app)
    for handler in logger.handlers:
        handler.addFilter(quiet)
