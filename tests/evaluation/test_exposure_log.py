"""The hot-path exposure write: one statement with the cap in it; group commit on PostgreSQL."""

from __future__ import annotations

import threading
import time
import uuid
from datetime import timedelta

import pytest
from django.db import IntegrityError, close_old_connections, connection
from django.utils import timezone

from evaluation import exposure_log
from evaluation.exposure_log import ExposureCap, ExposureRow, exposure_insert_unless_capped
from evaluation.models import Exposure
from tests.campaigns.factories import build_campaign


def a_row(campaign, *, person: str, campaign_id: int | None = None) -> ExposureRow:  # type: ignore[no-untyped-def]
    arm = campaign.arms.order_by("pk").first()
    return ExposureRow(
        id=uuid.uuid4(), organisation_id=campaign.organisation_id,
        campaign_id=campaign_id or campaign.pk, arm_id=arm.pk, schedule_id=None, segment_id=None,
        partner_id=None,
        message_id=None, source="intervention", channel="on_platform", country="GB",
        language="en", trigger="search_blocked_term", subject_key_id="2026-11",
        subject_pseudonym=person.ljust(64, "0"), is_holdout=arm.kind == "holdout",
        occurred_at=timezone.now())


def a_cap(count: int = 1) -> ExposureCap:
    return ExposureCap(count=count, since=timezone.now() - timedelta(days=7))


@pytest.mark.django_db
def test_a_person_at_the_cap_is_not_written_again_and_others_are(tenant):
    campaign = build_campaign(tenant).campaign
    first = a_row(campaign, person="aa")
    assert exposure_insert_unless_capped(first, cap=a_cap(2)) is True
    assert exposure_insert_unless_capped(a_row(campaign, person="aa"), cap=a_cap(2)) is True
    third = a_row(campaign, person="aa")
    assert exposure_insert_unless_capped(third, cap=a_cap(2)) is False
    assert exposure_insert_unless_capped(a_row(campaign, person="bb"), cap=a_cap(2)) is True
    assert exposure_insert_unless_capped(a_row(campaign, person="aa"), cap=None) is True
    assert Exposure.objects.filter(campaign=campaign).count() == 4
    assert not Exposure.objects.filter(pk=third.id).exists()
    stored = Exposure.objects.get(pk=first.id)
    assert (stored.subject_pseudonym, stored.trigger, stored.is_holdout) == (
        first.subject_pseudonym, "search_blocked_term", False)
    assert stored.inserted_at is not None


def run_in_threads(count: int, work) -> list:  # type: ignore[no-untyped-def]
    results: list = [None] * count

    def run(index: int) -> None:
        try:
            results[index] = work(index)
        except Exception as error:  # collected and asserted on by the test
            results[index] = error
        finally:
            close_old_connections()
            connection.close()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert not any(thread.is_alive() for thread in threads), "a writer hung"
    return results


@pytest.fixture
def held_first_batch(monkeypatch):  # type: ignore[no-untyped-def]
    """The first batch waits until `expected` more requests have queued behind it."""
    state = {"expected": 0, "sizes": []}
    real = exposure_log._insert_batch

    def insert(batch):  # type: ignore[no-untyped-def]
        if not state["sizes"]:
            deadline = time.monotonic() + 10
            while (len(exposure_log._group._queue) < state["expected"]
                   and time.monotonic() < deadline):
                time.sleep(0.005)
        state["sizes"].append(len(batch))
        return real(batch)

    monkeypatch.setattr(exposure_log, "_insert_batch", insert)
    return state


@pytest.mark.django_db(transaction=True)
def test_concurrent_writes_share_one_statement_and_every_row_lands_once(
        postgres, tenant, held_first_batch):
    campaign = build_campaign(tenant).campaign
    rows = [a_row(campaign, person=f"p{i}") for i in range(8)]
    held_first_batch["expected"] = 7
    results = run_in_threads(8, lambda i: exposure_insert_unless_capped(rows[i], cap=a_cap()))
    assert results == [True] * 8
    assert held_first_batch["sizes"] == [1, 7]  # the seven waiting requests: one statement
    stored = set(Exposure.objects.filter(campaign=campaign).values_list("id", flat=True))
    assert stored == {row.id for row in rows}


@pytest.mark.django_db(transaction=True)
def test_the_cap_holds_in_a_shared_statement(postgres, tenant, held_first_batch):
    campaign = build_campaign(tenant).campaign
    assert exposure_insert_unless_capped(a_row(campaign, person="seen"), cap=a_cap()) is True
    rows = [a_row(campaign, person="first"), a_row(campaign, person="seen"),
            a_row(campaign, person="new")]
    held_first_batch["expected"] = 2
    results = run_in_threads(3, lambda i: exposure_insert_unless_capped(rows[i], cap=a_cap()))
    assert results == [True, False, True]
    assert Exposure.objects.filter(campaign=campaign, subject_pseudonym=rows[1].subject_pseudonym
                                   ).count() == 1


@pytest.mark.django_db(transaction=True)
def test_a_failed_statement_fails_its_requests_and_the_writer_goes_on(
        postgres, tenant, held_first_batch):
    campaign = build_campaign(tenant).campaign
    # The second batch holds a row for a campaign that does not exist: its statement fails.
    rows = [a_row(campaign, person="lead"), a_row(campaign, person="x", campaign_id=10**9),
            a_row(campaign, person="y")]
    held_first_batch["expected"] = 2
    results = run_in_threads(3, lambda i: exposure_insert_unless_capped(rows[i], cap=None))
    assert results[0] is True
    assert all(isinstance(result, IntegrityError) for result in results[1:]), results
    assert not exposure_log._group._writing and not exposure_log._group._queue
    after = a_row(campaign, person="after")
    assert run_in_threads(1, lambda i: exposure_insert_unless_capped(after, cap=None)) == [True]
    stored = set(Exposure.objects.filter(campaign=campaign).values_list("id", flat=True))
    assert stored == {rows[0].id, after.id}


@pytest.mark.django_db
def test_the_statement_is_prepared_once_per_connection_on_postgresql(postgres, tenant):
    campaign = build_campaign(tenant).campaign
    for person in ("p1", "p2", "p3"):
        assert exposure_insert_unless_capped(a_row(campaign, person=person), cap=a_cap())
    with connection.cursor() as cursor:
        cursor.execute("SELECT statement FROM pg_prepared_statements")
        prepared = [row[0] for row in cursor.fetchall()]
    assert sum('INSERT INTO "evaluation_exposure"' in text for text in prepared) == 1
    # Django's own queries stay unprepared (client-side binding, nothing else accumulates).
    assert len(prepared) == 1, prepared
