"""The demo log is not flooded by routine periodic tasks; their failures still show."""

from __future__ import annotations

import logging

from outreach.celery import QuietRoutineTasks, app, routine_task_names


def record(name: str, level: int, message: str, *args: object) -> logging.LogRecord:
    return logging.LogRecord(name, level, __file__, 1, message, args, None)


def test_the_delivery_tick_and_heartbeats_are_routine_but_nightly_jobs_are_not() -> None:
    app.loader.import_default_modules()
    app.finalize()
    names = routine_task_names(app.conf.beat_schedule)
    assert {"delivery.tick", "delivery.heartbeat"} <= names
    assert "evaluation.purge_expired_raw_events" not in names


def test_routine_task_lines_are_dropped_and_their_failures_kept() -> None:
    quiet = QuietRoutineTasks(app)
    assert not quiet.filter(record("celery.beat", logging.INFO,
                                   "Scheduler: Sending due task %s (%s)", "delivery-tick",
                                   "delivery.tick"))
    assert not quiet.filter(record("celery.app.trace", logging.INFO,
                                   "Task delivery.tick[abc] succeeded in 0.01s: None"))
    assert quiet.filter(record("celery.app.trace", logging.ERROR,
                               "Task delivery.tick[abc] raised unexpected: OperationalError"))
    assert quiet.filter(record("celery.app.trace", logging.INFO,
                               "Task delivery.send_batch[abc] succeeded in 0.2s: None"))
    assert quiet.filter(record("delivery.tasks", logging.INFO, "lane %s: sent %s", "email", 3))
