"""The Celery app. Beat schedules are defined in code by each app (`BEAT_SCHEDULE` in tasks)."""

from __future__ import annotations

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "outreach.settings")

app = Celery("outreach")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@app.on_after_finalize.connect
def _collect_beat_schedules(sender: Celery, **kwargs: object) -> None:
    """Merge each app's BEAT_SCHEDULE so periodic work is declared beside its task."""
    from importlib import import_module

    from django.apps import apps

    for config in apps.get_app_configs():
        try:
            module = import_module(f"{config.name}.tasks")
        except ModuleNotFoundError:
            continue
        sender.conf.beat_schedule.update(getattr(module, "BEAT_SCHEDULE", {}))
