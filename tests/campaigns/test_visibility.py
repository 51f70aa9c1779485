"""Campaign visibility is one rule (own, or enrolled as a partner) in one selector.

Each reader of "campaigns this organisation may see" calls
campaigns.selectors.campaign_ids_visible_to / campaigns_visible_to; these tests check the
rule once and then that every caller goes through the selector.
"""

from __future__ import annotations

import ast
import uuid
from pathlib import Path

import pytest
from django.test import Client
from django.urls import reverse

import evaluation.admin
import evaluation.selectors
import interventions.selectors
from campaigns import selectors
from campaigns.models import Campaign
from evaluation.models import Exposure
from evaluation.selectors import campaign_for_report
from interventions.selectors import exposures_reportable_by, reportable_sql
from tests.interventions import factories

pytestmark = pytest.mark.django_db
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def world(tenant):  # type: ignore[no-untyped-def]
    return factories.world(programme=tenant.organisation)


def spy(monkeypatch, module, name):  # type: ignore[no-untyped-def]
    real, calls = getattr(module, name), []

    def wrapper(organisation, *args, **kwargs):  # type: ignore[no-untyped-def]
        calls.append(organisation)
        return real(organisation, *args, **kwargs)

    monkeypatch.setattr(module, name, wrapper)
    return calls


def exposure(world) -> Exposure:  # type: ignore[no-untyped-def]
    return Exposure.objects.create(
        id=uuid.uuid4(), organisation=world.programme, campaign=world.campaign,
        arm=world.variant, partner=world.partner, channel="web_interstitial",
        subject_key_id="2026-11", subject_pseudonym="a" * 64)


def test_an_organisation_sees_its_own_and_its_enrolled_campaigns_only(world, other_tenant):
    assert list(selectors.campaigns_visible_to(world.programme)) == [world.campaign]
    assert list(selectors.campaigns_visible_to(world.partner)) == [world.campaign]
    assert not selectors.campaigns_visible_to(other_tenant.organisation).exists()
    # A second partner enrolled: still one row per campaign (no join duplicates).
    world.campaign.partners.add(factories.partner_org())
    assert selectors.campaigns_visible_to(world.programme).count() == 1


def test_the_report_reads_visibility_from_the_selector(world, other_tenant, monkeypatch):
    calls = spy(monkeypatch, evaluation.selectors, "campaigns_visible_to")
    assert campaign_for_report(organisation=world.partner,
                               campaign_id=world.campaign.pk) == world.campaign
    with pytest.raises(Campaign.DoesNotExist):
        campaign_for_report(organisation=other_tenant.organisation,
                            campaign_id=world.campaign.pk)
    assert calls == [world.partner, other_tenant.organisation]


def test_the_admin_report_reads_visibility_from_the_selector(tenant, world, monkeypatch):
    calls = spy(monkeypatch, evaluation.admin, "campaigns_visible_to")
    client = Client()
    client.force_login(tenant.manager)
    client.get(reverse("admin:evaluation_campaign_report_json", args=[world.campaign.pk]))
    assert calls == [tenant.organisation]


def test_outcome_reports_read_visibility_from_the_selector(world, other_tenant, monkeypatch):
    shown = exposure(world)
    reportable_sql.cache_clear()
    calls = spy(monkeypatch, interventions.selectors, "campaign_ids_visible_to")
    try:
        for reporter in (world.programme, world.partner):
            assert set(exposures_reportable_by(reporter=reporter, ids=[shown.pk])) == {shown.pk}
        assert exposures_reportable_by(reporter=other_tenant.organisation, ids=[shown.pk]) == {}
        # Compiled once from the selector (placeholder organisation), then reused.
        assert len(calls) == 1
        sql, _ = reportable_sql()
        visible, _ = selectors.campaign_ids_visible_to(-7).query.sql_with_params()
        assert visible in sql
    finally:
        reportable_sql.cache_clear()


def test_an_enrolled_partner_may_report_on_another_partners_exposure(world):
    # The two old copies disagreed here; the campaign visibility rule wins (issue 11 §2).
    shown = exposure(world)
    helpline = factories.OrganisationFactory(name="A Helpline", kind="helpline")
    assert exposures_reportable_by(reporter=helpline, ids=[shown.pk]) == {}
    world.campaign.partners.add(helpline)
    assert set(exposures_reportable_by(reporter=helpline, ids=[shown.pk])) == {shown.pk}


def test_no_other_module_spells_out_the_visibility_rule():
    """Filters on Campaign.partners (the enrolment) appear only in campaigns/selectors.py."""
    offenders = []
    for path in ROOT.glob("*/**/*.py"):
        relative = path.relative_to(ROOT)
        if relative.parts[0] in {"tests", "bench", ".venv"} or "migrations" in relative.parts:
            continue
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Call) and _is_lookup(node.func) and any(
                    word.arg and word.arg.split("__")[0] == "partners" for word in node.keywords):
                offenders.append(f"{relative}:{node.lineno}")
    assert [o for o in offenders if not o.startswith("campaigns/selectors.py")] == []


def _is_lookup(func: ast.expr) -> bool:
    """Q(...), .filter(...), .exclude(...), .get(...): where a query condition is spelled."""
    name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
    return name in {"Q", "filter", "exclude", "get", "get_or_create", "first"}
