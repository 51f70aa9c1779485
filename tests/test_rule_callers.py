"""One rule, one function, and the hot paths call it (issue 11 §2).

docs/architecture.md's "Where each rule is enforced" names one function per rule; each test
here spies on that function where a hot path looks it up and checks the path goes through it.
Arm assignment: tests/campaigns/test_assignment_callers.py; campaign visibility:
tests/campaigns/test_visibility.py.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from django.utils import timezone

import campaigns.selectors
import delivery.fanout
import interventions.selectors
import interventions.services
import segments.import_batches
from campaigns.selectors import _in_flight_q, in_flight
from delivery.fanout import schedule_fan_out
from tests.delivery.factories import recipients, sending_campaign
from tests.interventions import factories
from tests.interventions.test_interventions_api import ask

ROOT = Path(__file__).resolve().parent.parent


def spy(monkeypatch: pytest.MonkeyPatch, module: Any, name: str) -> list[tuple]:
    real: Callable[..., Any] = getattr(module, name)
    calls: list[tuple] = []

    def wrapper(*args: Any, **kwargs: Any) -> Any:
        calls.append((args, kwargs))
        return real(*args, **kwargs)

    monkeypatch.setattr(module, name, wrapper)
    return calls


def sources(*, skip: tuple[str, ...] = ()) -> dict[str, str]:
    found = {}
    for path in ROOT.glob("*/**/*.py"):
        relative = str(path.relative_to(ROOT))
        if relative.split("/")[0] in {"tests", "bench", ".venv", "var"} or "migrations" in relative:
            continue
        if relative not in skip:
            found[relative] = path.read_text(encoding="utf-8")
    return found


# --- language fallback chain (core.locales.language_chain) -----------------------------------

@pytest.mark.django_db
def test_an_intervention_picks_its_language_along_the_one_chain(monkeypatch) -> None:
    calls = spy(monkeypatch, interventions.services, "language_chain")
    assert ask(factories.world(), language="de-AT").status_code == 200
    assert calls and calls[0][0][0] == "de-AT"


def test_a_fan_out_picks_each_language_along_the_one_chain(tenant, monkeypatch) -> None:
    calls = spy(monkeypatch, campaigns.selectors, "language_chain")
    recipients(tenant.organisation, 3)
    built = sending_campaign(tenant.organisation)
    schedule_fan_out(schedule_id=built.schedule.pk, now=timezone.now())
    assert calls and all(args[0] == "en" for args, _ in calls)


# --- frequency cap (evaluation.exposure_log.exposure_cap_for / capped_subjects) --------------

@pytest.mark.django_db
def test_an_intervention_takes_its_cap_from_the_exposure_log(monkeypatch) -> None:
    calls = spy(monkeypatch, interventions.services, "exposure_cap_for")
    world = factories.world()
    assert ask(world).status_code == 200
    assert [args[0].pk for args, _ in calls] == [world.campaign.pk]


def test_a_fan_out_takes_its_cap_from_the_exposure_log(tenant, monkeypatch) -> None:
    caps = spy(monkeypatch, delivery.fanout, "exposure_cap_for")
    capped = spy(monkeypatch, delivery.fanout, "capped_subjects")
    recipients(tenant.organisation, 2)
    built = sending_campaign(tenant.organisation)
    schedule_fan_out(schedule_id=built.schedule.pk, now=timezone.now())
    assert len(caps) == 1 and len(capped) == 1
    assert capped[0][1]["campaign_id"] == built.campaign.pk


def test_no_other_module_reads_the_cap_settings() -> None:
    """A campaign's frequency_cap_* fields become a cap in evaluation/exposure_log.py only."""
    readers = [name for name, text in sources(skip=("evaluation/exposure_log.py",)).items()
               if ".frequency_cap_count" in text or ".frequency_cap_days" in text]
    assert readers == []


# --- "in flight" (campaigns.selectors.in_flight, _in_flight_q its query form) ----------------

@pytest.mark.django_db
def test_an_intervention_checks_the_flight_with_the_one_rule(monkeypatch) -> None:
    calls = spy(monkeypatch, interventions.selectors, "in_flight")
    assert ask(factories.world()).status_code == 200
    assert len(calls) == 1


@pytest.mark.django_db
def test_the_query_and_the_function_agree_at_the_edges_of_a_flight() -> None:
    world = factories.world()
    campaign = world.campaign
    flight = campaign.flights.get()
    now = timezone.now()
    flight.starts_at, flight.ends_at = now, now + timedelta(hours=1)
    flight.save()
    spans = [(flight.starts_at, flight.ends_at)]
    for at, expected in ((now - timedelta(seconds=1), False), (now, True),
                         (now + timedelta(minutes=59), True), (now + timedelta(hours=1), False)):
        queried = type(campaign).objects.filter(_in_flight_q(at), pk=campaign.pk).exists()
        assert in_flight(spans, at) is expected and queried is expected, at
    assert in_flight([(now, None)], now + timedelta(days=999))


def test_no_other_module_spells_out_in_flight() -> None:
    spelled = [name for name, text in sources(skip=("campaigns/selectors.py",)).items()
               if "is None or at < " in text or "ends_at__gt" in text]
    assert spelled == []


# --- pseudonyms and blind indexes (core.pseudonyms, core.crypto batch forms) -----------------

def test_an_import_pseudonymises_and_indexes_in_batches(tenant, monkeypatch) -> None:
    candidates = spy(monkeypatch, segments.import_batches, "pseudonym_candidates_many")
    indexes = spy(monkeypatch, segments.import_batches, "blind_index_many")
    recipients(tenant.organisation, 5)
    assert len(candidates) == 1 and len(candidates[0][0][0]) == 5
    assert len(indexes) == 1 and len(indexes[0][0][0]) == 5


def test_only_core_computes_pseudonyms_and_blind_indexes() -> None:
    """Only core holds the keys that digest people (pseudonyms, blind indexes, field keys).

    Outside it, campaigns.assignment reads its own assignment key from the pseudonym ring (arm
    assignment hashes pseudonyms, never identifiers) and evaluation.retention destroys expired
    pseudonym keys; neither computes a pseudonym.
    """
    users = sorted(name for name, text in sources().items()
                   if not name.startswith("core/")
                   and ("pseudonym_ring" in text or "blind_index_ring" in text
                        or "field_ring" in text))
    assert users == ["campaigns/assignment.py", "evaluation/retention.py"]
