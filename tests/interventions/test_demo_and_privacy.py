"""The demo partner page, and the rule that a raw session id is never stored or logged."""

from __future__ import annotations

import logging

import pytest
from django.db import connection

from interventions.demo import seed_demo
from organisations.models import Partnership
from tests.interventions import factories

RAW_SESSION = "demo-session-12345"


def test_seed_demo_adds_the_triggers_enrols_the_partner_and_is_idempotent(db):
    w = factories.world()
    newcomer = factories.partner_org("Demo Partner")
    path = seed_demo(programme=w.programme, partner=newcomer, campaign=w.campaign)
    assert path == f"/demo/partner/?partner={newcomer.slug}"
    assert seed_demo(programme=w.programme, partner=newcomer, campaign=w.campaign) == path
    partnership = Partnership.objects.get(programme=w.programme, partner=newcomer)
    assert {"search_blocked_term", "upload_blocked"} <= set(partnership.triggers)
    assert w.campaign.partners.filter(pk=newcomer.pk).exists()


def test_the_demo_page_is_hidden_unless_demo_pages_are_on(db, client, settings):
    w = factories.world()
    settings.DEBUG = False
    settings.DEMO_PAGES = False
    assert client.get(f"/demo/partner/?partner={w.partner.slug}").status_code == 404
    settings.DEMO_PAGES = True
    page = client.get(f"/demo/partner/?partner={w.partner.slug}")
    assert page.status_code == 200
    assert b"outreach-intervention.js" in page.content


def test_the_demo_page_without_a_partner_plays_the_only_partner(db, client, settings):
    settings.DEMO_PAGES = True
    w = factories.world()
    page = client.get("/demo/partner/")
    assert page.status_code == 200
    assert page.context["partner"] == w.partner
    assert b"outreach-intervention.js" in page.content


def test_the_demo_page_lists_the_partners_when_there_is_a_choice(db, client, settings):
    settings.DEMO_PAGES = True
    w = factories.world()
    second = factories.partner_org("Second Platform")
    seed_demo(programme=w.programme, partner=second, campaign=w.campaign)
    page = client.get("/demo/partner/")
    assert page.status_code == 200
    assert f'href="?partner={w.partner.slug}"'.encode() in page.content
    assert f'href="?partner={second.slug}"'.encode() in page.content
    unknown = client.get("/demo/partner/?partner=nobody-here")
    assert unknown.status_code == 404
    assert "no demo partner called" in unknown.content.decode()
    assert f'href="?partner={second.slug}"'.encode() in unknown.content


def test_the_demo_page_without_any_partner_says_how_to_seed_one(db, client, settings):
    settings.DEMO_PAGES = True
    page = client.get("/demo/partner/")
    assert page.status_code == 200
    assert b"demo_seed" in page.content


def test_the_demo_proxy_answers_like_the_api(db, client, settings):
    settings.DEMO_PAGES = True
    w = factories.world()
    response = client.post("/demo/partner/trigger", {
        "partner": w.partner.slug, "trigger": "search_blocked_term", "country": "GB",
        "language": "en", "session_id": "demo-tab-1"}, content_type="application/json")
    assert response.status_code == 200
    assert response.json()["show"] is True
    bad = client.post("/demo/partner/trigger", {"partner": w.partner.slug, "trigger": "nope",
                                                "country": "GB", "language": "en"},
                      content_type="application/json")
    assert bad.status_code == 400 and "trigger" in bad.json()


def test_the_bench_baseline_is_hidden_unless_enabled(db, client, settings):
    settings.DEBUG = False
    settings.BENCH_ENDPOINTS = False
    assert client.get("/bench/bare").status_code == 404
    assert client.get("/bench/bare-write").status_code == 404
    assert client.get("/bench/group-write").status_code == 404
    settings.BENCH_ENDPOINTS = True
    assert client.get("/bench/bare").json() == {"ok": True}


def test_the_writing_baseline_commits_one_row_per_request(db, client, settings):
    from django.db import connection

    from interventions.views import BENCH_WRITE_TABLE, bench_write_table_create

    settings.BENCH_ENDPOINTS = True
    bench_write_table_create()
    for _ in range(3):
        assert client.get("/bench/bare-write").json() == {"ok": True}
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT COUNT(*) FROM {BENCH_WRITE_TABLE}")  # noqa: S608
        assert cursor.fetchone()[0] == 3


def test_the_group_writing_baseline_commits_one_exposure_per_request(db, client, settings):
    from evaluation.models import Exposure

    w = factories.world()
    settings.BENCH_ENDPOINTS = True
    arm = w.campaign.arms.order_by("pk").first()
    query = f"organisation={w.programme.pk}&campaign={w.campaign.pk}&arm={arm.pk}"
    for _ in range(3):
        assert client.get(f"/bench/group-write?{query}").json() == {"ok": True}
    assert Exposure.objects.filter(campaign=w.campaign, trigger="bench").count() == 3
    missing = client.get(f"/bench/group-write?campaign={w.campaign.pk}")
    assert missing.status_code == 400 and "organisation" in missing.json()["detail"]
    assert client.get("/bench/group-write?organisation=x&campaign=1&arm=1").status_code == 400


def all_text_containing(needle: str) -> list[str]:
    """Every table.column whose value, read as text, contains `needle` (raw SQL, all tables)."""
    hits = []
    with connection.cursor() as cursor:
        for table in connection.introspection.table_names(cursor):
            for column in connection.introspection.get_table_description(cursor, table):
                quoted_table = connection.ops.quote_name(table)
                quoted_column = connection.ops.quote_name(column.name)
                cursor.execute(
                    f"SELECT 1 FROM {quoted_table} "  # noqa: S608 - names from introspection
                    f"WHERE CAST({quoted_column} AS TEXT) LIKE %s LIMIT 1", [f"%{needle}%"])
                if cursor.fetchone():
                    hits.append(f"{table}.{column.name}")
    return hits


@pytest.mark.django_db(transaction=True)
def test_a_raw_session_id_is_never_stored_or_logged(caplog, client, settings):
    settings.DEMO_PAGES = True
    w = factories.world()
    caplog.set_level(logging.DEBUG)
    caplog.set_level(logging.DEBUG, logger="django.db.backends")
    connection.force_debug_cursor = True  # log every SQL statement with its parameters
    try:
        api = w.client().post("/api/v1/interventions", {
            "trigger": "search_blocked_term", "country": "GB", "language": "en",
            "session_id": RAW_SESSION}, format="json").json()
        w.client().post("/api/v1/interventions", {
            "trigger": "search_blocked_term", "country": "GB", "language": "en",
            "session_id": RAW_SESSION}, format="json")  # capped: looked up, not stored
        w.client().post("/api/v1/interventions", {
            "trigger": "unknown_rule", "country": "GB", "language": "en",
            "session_id": RAW_SESSION}, format="json")  # refused
        client.post("/demo/partner/trigger", {
            "partner": w.partner.slug, "trigger": "upload_blocked", "country": "GB",
            "language": "en", "session_id": RAW_SESSION}, content_type="application/json")
        client.get(api["help_resources"][0]["url"].replace("http://testserver", ""))
    finally:
        connection.force_debug_cursor = False
    assert api["show"] is True
    assert any("evaluation_exposure" in r.getMessage() for r in caplog.records), \
        "SQL logging must have been captured for this test to mean anything"
    assert all_text_containing(RAW_SESSION) == []
    assert all_text_containing("session-12345") == []
    assert not [r for r in caplog.records if "12345" in r.getMessage()]
