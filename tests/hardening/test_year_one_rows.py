"""Rows dated 1 BC (stored before timestamps were bounded: PostgreSQL keeps them, Python cannot
load them) break no admin page and no report.

Input is bounded at the edge (core.bounds; tests/interventions/test_timestamp_bounds.py); here
the rows are written with SQL, as an old version did, and every admin changelist, the home page
and the campaign report are fetched as a superuser and as the programme's manager.
"""

from __future__ import annotations

import pytest
from django.contrib import admin
from django.db import connection
from django.test import Client
from django.urls import reverse

from campaigns.models import Campaign
from evaluation.models import Exposure, Outcome
from tests.factories import UserFactory
from tests.interventions import factories

BC = "0001-01-01 00:00:00+00 BC"


@pytest.fixture
def bombed(postgres):  # type: ignore[no-untyped-def]
    w = factories.world()
    Campaign.objects.filter(pk=w.campaign.pk).update(status="running")
    body = w.client().post("/api/v1/interventions", {
        "trigger": "search_blocked_term", "country": "GB", "language": "en",
        "session_id": "person-1"}, format="json").json()
    outcome = Outcome.objects.create(organisation=w.programme, reported_by=w.partner,
                                     campaign=w.campaign, kind="helpline_contact",
                                     idempotency_key="r:old")
    with connection.cursor() as cursor:
        cursor.execute("UPDATE evaluation_outcome SET occurred_at = %s, recorded_at = %s "
                       "WHERE id = %s", [BC, BC, outcome.pk])
        cursor.execute("UPDATE evaluation_exposure SET occurred_at = %s WHERE id = %s",
                       [BC, body["intervention_id"]])
        cursor.execute(
            "INSERT INTO interventions_dailyaggregate (organisation_id, reported_by_id, day, "
            "kind, referral_source, count, updated_at) VALUES (%s, %s, '0001-01-01 BC', "
            "'helpline_contact', 'unknown', 3, %s)", [w.programme.pk, w.partner.pk, BC])
    assert Exposure.objects.filter(pk=body["intervention_id"]).exists()
    return w


def _changelists() -> list[str]:
    return [reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_changelist")
            for model in admin.site._registry]


def test_no_admin_changelist_breaks_on_rows_dated_year_one(bombed):
    root = UserFactory(username="root-bc", is_staff=True, is_superuser=True)
    client = Client()
    client.force_login(root)
    pages = ["/admin/", *_changelists(),
             reverse("admin:evaluation_campaign_report", args=[bombed.campaign.pk])]
    broken = []
    for page in pages:
        response = client.get(page)
        if response.status_code >= 500:
            broken.append((page, response.status_code))
    assert broken == []
    assert len(pages) > 15


def test_the_api_report_and_a_replay_of_the_old_key_survive_year_one_rows(bombed):
    from organisations.models import ApiScope
    from tests.factories import ApiKeyFactory

    _, secret = ApiKeyFactory.create_with_secret(organisation=bombed.programme,
                                                 scopes=[ApiScope.REPORTS_READ])
    for suffix in ("", ".csv"):
        response = bombed.client(secret).get(f"/api/v1/campaigns/{bombed.campaign.pk}/report"
                                             f"{suffix}")
        assert response.status_code == 200, suffix
