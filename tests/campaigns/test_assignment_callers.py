"""One arm-assignment rule: scheduled sends and live interventions both pick the arm through
campaigns.assignment (ArmSlices), and neither keeps a copy of the hash."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.utils import timezone

from campaigns import assignment
from delivery.fanout import schedule_fan_out
from tests.delivery.factories import recipients, sending_campaign
from tests.interventions import factories
from tests.interventions.test_interventions_api import ask

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def picks(monkeypatch):  # type: ignore[no-untyped-def]
    """Every pick through the shared core, counted."""
    counted: list[float] = []
    real = assignment.ArmSlices.arm_at

    def arm_at(self, u):  # type: ignore[no-untyped-def]
        counted.append(u)
        return real(self, u)

    monkeypatch.setattr(assignment.ArmSlices, "arm_at", arm_at)
    return counted


def test_a_fan_out_assigns_every_person_through_campaigns_assignment(tenant, picks) -> None:
    recipients(tenant.organisation, 5)
    built = sending_campaign(tenant.organisation)
    schedule_fan_out(schedule_id=built.schedule.pk, now=timezone.now())
    assert len(picks) == 5


def test_an_intervention_assigns_through_campaigns_assignment(db, picks) -> None:
    world = factories.world()
    assert ask(world).status_code == 200
    assert len(picks) == 1


def test_no_other_app_repeats_the_assignment_hash() -> None:
    for app in ("delivery", "interventions"):
        for path in (ROOT / app).rglob("*.py"):
            text = path.read_text(encoding="utf-8")
            assert "assignment_seed" not in text and "assignment_key" not in text, path
