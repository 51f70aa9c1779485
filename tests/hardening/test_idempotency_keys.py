"""A partner's idempotency key is stored as a keyed hash, never as sent; replays still count once.

A partner who puts a session id in the key would otherwise defeat pseudonymisation: the raw
tables are read here for the raw value.
"""

from __future__ import annotations

import importlib
import json

import pytest
from django.apps import apps
from django.db import connection

from evaluation.idempotency import REPORTED_PREFIX, reported_key, reported_keys
from evaluation.models import Outcome
from organisations.models import ApiScope, Partnership
from tests.interventions import factories

SESSION_ID = "session-7f3a9c-person"  # what a careless partner sends as its key
BATCH = "/api/v1/outcomes/batch"


def _helpline(world):  # type: ignore[no-untyped-def]
    org = factories.OrganisationFactory(kind="helpline")
    Partnership.objects.create(programme=world.programme, partner=org, triggers=[])
    return org, factories.partner_key(org, ApiScope.OUTCOMES_WRITE)


@pytest.fixture
def helpline(world):  # type: ignore[no-untyped-def]
    return _helpline(world)


def event(world, key: str) -> dict:  # type: ignore[no-untyped-def]
    return {"kind": "helpline_contact", "idempotency_key": key,
            "referral_code": world.campaign.referral_code}


def single(world, secret: str, key: str):  # type: ignore[no-untyped-def]
    return world.client(secret).post("/api/v1/outcomes", event(world, key), format="json")


def batch(world, secret: str, keys: list[str]):  # type: ignore[no-untyped-def]
    body = "".join(json.dumps(event(world, key)) + "\n" for key in keys)
    return world.client(secret).generic("POST", BATCH, body,
                                        content_type="application/x-ndjson")


def raw_table_text() -> str:
    with connection.cursor() as cursor:
        cursor.execute("SELECT string_agg(o::text, ' ') FROM evaluation_outcome o")
        return cursor.fetchone()[0] or ""


def test_a_single_report_stores_a_keyed_hash_and_a_replay_counts_once(world, helpline):
    org, secret = helpline
    first = single(world, secret, SESSION_ID)
    assert first.status_code == 201
    stored = Outcome.objects.get().idempotency_key
    assert stored == reported_key(org.pk, SESSION_ID)
    assert stored.startswith(REPORTED_PREFIX) and len(stored) == len(REPORTED_PREFIX) + 64
    assert SESSION_ID not in raw_table_text()
    again = single(world, secret, SESSION_ID)
    assert (again.status_code, again.json()) == (200, {"id": first.json()["id"],
                                                       "duplicate": True})
    assert Outcome.objects.count() == 1


def test_keys_stay_case_sensitive(world, helpline):
    _, secret = helpline
    assert single(world, secret, "Call-1").status_code == 201
    assert single(world, secret, "call-1").status_code == 201
    assert Outcome.objects.count() == 2


def test_a_batch_stores_keyed_hashes_and_dedups_against_single_reports(world, helpline):
    org, secret = helpline
    assert single(world, secret, "k1").status_code == 201
    report = batch(world, secret, ["k1", SESSION_ID, SESSION_ID, "k3"]).json()
    assert (report["accepted"], report["duplicates"]) == (2, 2)
    assert set(Outcome.objects.values_list("idempotency_key", flat=True)) == set(
        reported_keys(org.pk, ["k1", SESSION_ID, "k3"]))
    assert SESSION_ID not in raw_table_text()
    assert single(world, secret, "k3").json()["duplicate"] is True


def test_the_same_key_from_two_reporters_is_two_outcomes_with_unlinkable_hashes(world, helpline):
    org, secret = helpline
    other, other_secret = _helpline(world)
    assert single(world, secret, SESSION_ID).status_code == 201
    assert single(world, other_secret, SESSION_ID).status_code == 201
    assert reported_key(org.pk, SESSION_ID) != reported_key(other.pk, SESSION_ID)
    assert Outcome.objects.count() == 2


def test_the_migration_hashes_raw_keys_and_a_replay_still_counts_once(world, helpline):
    org, secret = helpline
    legacy = Outcome.objects.create(organisation=world.programme, reported_by=org,
                                    campaign=world.campaign, kind="helpline_contact",
                                    idempotency_key="r:" + SESSION_ID)
    ours = Outcome.objects.create(organisation=world.programme, reported_by=org,
                                  campaign=world.campaign, kind="help_click",
                                  idempotency_key="click:own-id")
    with connection.cursor() as cursor:  # a row the ORM cannot read back (1 BC)
        cursor.execute("UPDATE evaluation_outcome SET occurred_at = '0001-01-01 BC' "
                       "WHERE id = %s", [legacy.pk])
    migration = importlib.import_module(
        "evaluation.migrations.0008_hash_reported_idempotency_keys")
    migration.hash_raw_keys(apps, None)
    keys = dict(Outcome.objects.values_list("pk", "idempotency_key"))
    assert keys == {legacy.pk: reported_key(org.pk, SESSION_ID), ours.pk: "click:own-id"}
    assert SESSION_ID not in raw_table_text()
    replay = single(world, secret, SESSION_ID)  # the stored row is dated 1 BC: no 500
    assert (replay.status_code, replay.json()) == (200, {"id": legacy.pk, "duplicate": True})
