"""The admin index is the programme manager's home, and the admin switches language."""

from __future__ import annotations

import pytest
from django.test import Client
from django.utils import timezone

from tests.campaigns.factories import CampaignFactory
from tests.directory.factories import HelpResourceFactory
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def signed_in(user) -> Client:  # type: ignore[no-untyped-def]
    client = Client()
    client.force_login(user)
    return client


def test_the_index_shows_running_campaigns_reviews_and_resources_to_check(tenant, other_tenant):
    CampaignFactory(organisation=tenant.organisation, name="Live warning", status="running")
    CampaignFactory(organisation=tenant.organisation, name="Waiting one", status="in_review")
    CampaignFactory(organisation=other_tenant.organisation, name="Not ours", status="running")
    HelpResourceFactory(organisation=tenant.organisation, confirmed_at=None)
    HelpResourceFactory(organisation=tenant.organisation,
                        confirmed_at=timezone.now() - timezone.timedelta(days=3650))
    page = signed_in(tenant.manager).get("/admin/")
    assert page.status_code == 200
    html = page.content.decode()
    dashboard = page.context["dashboard"]
    assert [c.name for c in dashboard.running] == ["Live warning"]
    assert [c.name for c in dashboard.in_review] == ["Waiting one"]
    assert (dashboard.needs_verification, dashboard.stale) == (1, 1)
    assert "Not ours" not in html
    assert "?verification=needs_verification" in html
    assert dashboard.sent_today.display == "0"


def test_security_tables_are_kept_apart_and_hidden_from_programme_staff(tenant):
    html = signed_in(tenant.manager).get("/admin/").content.decode()
    assert "Security and access" not in html and "/admin/axes/" not in html
    root = UserFactory(username="root-user", is_staff=True, is_superuser=True)
    page = signed_in(root).get("/admin/")
    work = {app["app_label"] for app in page.context["app_list"]}
    security = {app["app_label"] for app in page.context["security_apps"]}
    assert "axes" in security and "axes" not in work
    assert "campaigns" in work
    assert page.content.decode().index("Running campaigns") < \
        page.content.decode().index("Security and access")


def test_the_admin_switches_language_and_back(tenant):
    client = signed_in(tenant.manager)
    assert "Prevention programmes" in client.get("/admin/").content.decode()
    switched = client.post("/i18n/setlang/", {"language": "de", "next": "/admin/"}, follow=True)
    html = switched.content.decode()
    assert switched.status_code == 200
    assert "Präventionsprogramme" in html  # our string
    assert "Laufende Kampagnen" in html  # our dashboard
    assert "Abmelden" in html  # Django's own admin chrome
    assert 'value="de" selected' in html
    back = client.post("/i18n/setlang/", {"language": "en-gb", "next": "/admin/"}, follow=True)
    assert "Prevention programmes" in back.content.decode()


def test_the_campaign_pages_speak_german_too(tenant):
    campaign = CampaignFactory(organisation=tenant.organisation, status="running")
    client = signed_in(tenant.manager)
    client.post("/i18n/setlang/", {"language": "de", "next": "/admin/"})
    html = client.get(f"/admin/campaigns/campaign/{campaign.pk}/change/").content.decode()
    assert "Versandfortschritt und Bericht verfolgen" in html
    assert "Pausieren" in html


def test_the_api_stays_in_english_whatever_the_admin_language(tenant):
    client = Client()
    client.post("/i18n/setlang/", {"language": "de", "next": "/admin/"})
    assert client.cookies["django_language"].value == "de"
    answer = client.get("/api/v1/help-resources/", HTTP_ACCEPT_LANGUAGE="de")
    assert answer.status_code in (401, 403)
    assert "credentials" in answer.json()["detail"].lower()
    # and the language does not leak into the next request the thread serves
    assert "Prevention programmes" in signed_in(tenant.manager).get("/admin/").content.decode()


@pytest.mark.parametrize("scope", ["organisation", "superuser"])
def test_the_days_delivery_counts_read_their_indexes_not_the_outbox(postgres, tenant, scope):
    from django.db import connection, transaction

    from outreach.admin_dashboard import day_deliveries

    organisation = tenant.organisation if scope == "organisation" else None
    since = timezone.now().replace(hour=0, minute=0, second=0, microsecond=0)
    sent, failed = day_deliveries(organisation=organisation, since=since)
    # The tables are tiny here, where a scan is cheapest: forbid it to see that the index
    # serves the query (on a real outbox the planner picks it by cost).
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")
        assert "delivery_sent" in sent.explain()
        assert "delivery_failed" in failed.explain()
