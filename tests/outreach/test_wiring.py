"""The wiring in outreach/ names every app's part explicitly (no look-up by string), so a new
app's routes, periodic tasks or report hooks must be added there: these tests notice if not."""

from __future__ import annotations

import importlib
from pathlib import Path

from django.conf import settings

from evaluation.admin import REPORT_SECTIONS
from evaluation.population import POPULATION_SOURCES
from evaluation.reports import SIGNPOSTS_HELPLINE
from helpline.selectors import campaign_signposts_helpline
from interventions.selectors import helpline_daily_totals
from learning.campaign_section import campaign_learning_section
from outreach.celery import app
from outreach.urls import API_URLS
from tests.test_import_graph import APPS

ROOT = Path(settings.BASE_DIR)


def test_every_app_api_is_routed() -> None:
    apis = {f"{app}.api.urls" for app in APPS if (ROOT / app / "api" / "urls.py").exists()}
    assert {urls.__name__ for urls in API_URLS} == apis


def test_every_app_beat_schedule_is_merged() -> None:
    app.loader.import_default_modules()
    app.finalize()
    for name in APPS:
        if not (ROOT / name / "tasks.py").exists():
            continue
        schedule = getattr(importlib.import_module(f"{name}.tasks"), "BEAT_SCHEDULE", {})
        for key, entry in schedule.items():
            assert app.conf.beat_schedule.get(key) == entry, f"{name}.tasks: {key}"


def test_lower_apps_reach_higher_ones_only_through_registered_hooks() -> None:
    assert campaign_learning_section in REPORT_SECTIONS
    assert helpline_daily_totals in POPULATION_SOURCES
    assert campaign_signposts_helpline in SIGNPOSTS_HELPLINE
