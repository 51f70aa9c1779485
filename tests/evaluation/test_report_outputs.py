"""Every output (API JSON, CSV, admin page) shows the same disclosed figures, none small."""

from __future__ import annotations

import csv
import io
import re
from datetime import date, timedelta

import pytest
from django.test import Client
from django.urls import reverse

from core.errors import InvalidInput
from evaluation.services import disclosure_settings_set, plan_create, plan_lock_for_campaign
from organisations.models import ApiScope
from organisations.services import Actor
from tests.evaluation.factories import campaign_with_arms, cell
from tests.factories import MembershipFactory, UserFactory

SMALL = {"help": 4}  # helpline contacts of the "help" arm: must never be shown


@pytest.fixture
def campaign(tenant):  # type: ignore[no-untyped-def]
    campaign, arms = campaign_with_arms(tenant.organisation)
    plan_create(campaign=campaign, actor=Actor.system(),
                hypothesis="Legal and help framings each beat a neutral message on clicks.",
                primary_outcome="help_click", secondary_outcomes=["helpline_contact"],
                comparator_kind="neutral_control",
                comparator_rationale="All arms signpost help; none withholds it.",
                unit_of_analysis="session", baseline_rate=0.000175,
                minimum_detectable_effect=0.3, sequential=True)
    plan_lock_for_campaign(campaign=campaign)
    for i in range(14):
        day = date(2026, 11, 1) + timedelta(days=i)
        cell(campaign, arms["control"], day=day, exposures=100_000, help_click=17,
             info_requested=60, helpline_contact=2)
        cell(campaign, arms["legal"], day=day, exposures=100_000, help_click=18,
             info_requested=59, helpline_contact=3)
        cell(campaign, arms["help"], day=day, exposures=100_000, help_click=25,
             info_requested=61, helpline_contact=1 if i < SMALL["help"] else 0)
    return campaign


def published_counts(node, path="") -> list[tuple[str, int | None, str]]:  # type: ignore[no-untyped-def]
    """Every disclosed count in a JSON report: (path, value, display)."""
    found = []
    if isinstance(node, dict):
        if {"value", "display", "suppressed"} <= set(node):
            return [(path, node["value"], node["display"])]
        for key, value in node.items():
            found += published_counts(value, f"{path}.{key}")
    elif isinstance(node, list):
        for i, value in enumerate(node):
            found += published_counts(value, f"{path}[{i}]")
    return found


def test_no_count_between_1_and_9_appears_in_the_json_report(tenant, campaign) -> None:  # type: ignore[no-untyped-def]
    response = tenant.client().get(f"/api/v1/campaigns/{campaign.pk}/report")
    assert response.status_code == 200
    counts = published_counts(response.json())
    assert len(counts) > 40
    for path, value, display in counts:
        assert value is None or value == 0 or value >= 10, path
        assert value is None or value % 5 == 0, path
        assert display in {"<10", "[c]"} or value is not None
    help_contacts = response.json()["arms"][2]["outcomes"]["helpline_contact"]
    assert help_contacts == {"value": None, "display": "<10", "suppressed": True}


def test_a_hidden_count_cannot_be_worked_out_from_the_totals(tenant, campaign) -> None:  # type: ignore[no-untyped-def]
    body = tenant.client().get(f"/api/v1/campaigns/{campaign.pk}/report").json()
    contacts = [arm["outcomes"]["helpline_contact"] for arm in body["arms"]]
    total = body["totals"]["outcomes"]["helpline_contact"]
    hidden = [c for c in contacts if c["suppressed"]]
    assert len(hidden) >= 2 or total["suppressed"]


def test_rates_and_comparisons_are_hidden_where_a_count_is_hidden(tenant, campaign) -> None:  # type: ignore[no-untyped-def]
    body = tenant.client().get(f"/api/v1/campaigns/{campaign.pk}/report").json()
    help_arm = body["arms"][2]
    assert help_arm["rates"]["helpline_contact"] is None
    contact = next(c for c in body["secondary_comparisons"]
               if c["outcome"] == "helpline_contact" and c["variant"] == "help")
    assert contact["shown"] is False and contact["rate_ratio"] is None
    primary = body["comparisons"][1]
    assert primary["shown"] and primary["odds_ratio"]["lower"] < primary["odds_ratio"]["upper"]
    assert primary["sequential"]["lower"] < primary["sequential"]["upper"]


def test_breakdowns_never_show_a_small_cell(tenant, campaign) -> None:  # type: ignore[no-untyped-def]
    body = tenant.client().get(f"/api/v1/campaigns/{campaign.pk}/report").json()
    for table in body["daily"] + body["strata"]:
        for row in table["rows"]:
            for display in row["cells"]:
                if display not in {"<10", "[c]"}:
                    value = int(display.replace(",", ""))
                    assert value == 0 or value >= 10, table["title"]


def test_the_csv_export_carries_the_same_figures_as_the_json(tenant, campaign) -> None:  # type: ignore[no-untyped-def]
    client = tenant.client()
    body = client.get(f"/api/v1/campaigns/{campaign.pk}/report").json()
    text = client.get(f"/api/v1/campaigns/{campaign.pk}/report.csv").content.decode()
    via_format = client.get(f"/api/v1/campaigns/{campaign.pk}/report?format=csv")
    assert via_format.status_code == 200 and via_format["Content-Type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(text)))
    arms = {r[1]: r for r in rows if r[0] == "arms" and r[1] != "arm"}
    for arm in body["arms"]:
        assert arms[arm["name"]][3] == arm["exposures"]["display"]
    assert arms["help"][rows[[r[0] for r in rows].index("arms")].index("helpline_contact")] \
        == "<10"
    for row in rows:
        if row[0] in {"arms"} and row[1] != "arm":
            for cell_text in row[3:5]:
                assert not re.fullmatch(r"[1-9]", cell_text)


def test_a_programme_cannot_switch_disclosure_off_in_production(tenant, settings) -> None:  # type: ignore[no-untyped-def]
    settings.PRODUCTION = True
    with pytest.raises(InvalidInput):
        disclosure_settings_set(organisation=tenant.organisation, actor=Actor.system(),
                                enabled=False)


def test_a_programme_threshold_applies_to_its_reports(tenant, campaign) -> None:  # type: ignore[no-untyped-def]
    disclosure_settings_set(organisation=tenant.organisation, actor=Actor.system(),
                            threshold=20, rounding_base=10)
    body = tenant.client().get(f"/api/v1/campaigns/{campaign.pk}/report").json()
    assert body["disclosure"] == {"threshold": 20, "rounding_base": 10, "enabled": True}
    for _, value, _ in published_counts(body):
        assert value is None or value == 0 or (value >= 20 and value % 10 == 0)


# --- authorisation ---------------------------------------------------------------------------


def test_anonymous_callers_get_401(anonymous_client, campaign) -> None:  # type: ignore[no-untyped-def]
    assert anonymous_client.get(f"/api/v1/campaigns/{campaign.pk}/report").status_code == 401
    assert anonymous_client.get(f"/api/v1/campaigns/{campaign.pk}/report.csv").status_code \
        == 401


def test_a_key_without_the_reports_scope_gets_403(tenant, campaign) -> None:  # type: ignore[no-untyped-def]
    client = tenant.client(tenant.key_with(ApiScope.CAMPAIGNS_READ))
    assert client.get(f"/api/v1/campaigns/{campaign.pk}/report").status_code == 403


def test_another_organisations_key_gets_404(other_tenant, campaign) -> None:  # type: ignore[no-untyped-def]
    client = other_tenant.client()
    assert client.get(f"/api/v1/campaigns/{campaign.pk}/report").status_code == 404
    assert client.get(f"/api/v1/campaigns/{campaign.pk}/report.csv").status_code == 404
    assert client.get("/api/v1/campaigns/999999/report").status_code == 404


def test_an_enrolled_partner_with_the_reports_scope_may_read_the_report(other_tenant,  # type: ignore[no-untyped-def]
                                                                         campaign) -> None:
    campaign.partners.add(other_tenant.organisation)
    client = other_tenant.client(other_tenant.key_with(ApiScope.REPORTS_READ))
    response = client.get(f"/api/v1/campaigns/{campaign.pk}/report")
    assert response.status_code == 200
    assert response.json()["disclosure"]["threshold"] == 10  # the programme's policy


# --- the plan API ----------------------------------------------------------------------------

PLAN_BODY = {
    "hypothesis": "A help framing raises help clicks.", "primary_outcome": "help_click",
    "comparator_kind": "neutral_control", "comparator_rationale": "No one is denied help.",
    "unit_of_analysis": "session", "alpha": 0.05, "power": 0.8, "baseline_rate": 0.0002,
    "minimum_detectable_effect": 0.25,
}


def test_a_plan_is_written_then_locked_then_amended_through_the_api(tenant) -> None:  # type: ignore[no-untyped-def]
    campaign, _ = campaign_with_arms(tenant.organisation)
    client = tenant.client()
    url = f"/api/v1/campaigns/{campaign.pk}/plan"
    assert client.put(url, PLAN_BODY, format="json").status_code == 201
    assert client.put(url, {**PLAN_BODY, "alpha": 0.01}, format="json").status_code == 200
    plan_lock_for_campaign(campaign=campaign)
    assert client.put(url, PLAN_BODY, format="json").status_code == 409
    amended = client.post(f"{url}/amendments", {"reason": "Ethics board asked for power 0.9",
                                                "changes": {"power": 0.9}}, format="json")
    assert amended.status_code == 201
    body = client.get(url).json()
    assert body["power"] == 0.9 and len(body["locked_hash"]) == 64
    assert body["amendments"][0]["previous_hash"] == body["locked_hash"]


def test_the_plan_api_names_the_bad_field(tenant) -> None:  # type: ignore[no-untyped-def]
    campaign, _ = campaign_with_arms(tenant.organisation)
    response = tenant.client().put(f"/api/v1/campaigns/{campaign.pk}/plan",
                                   {**PLAN_BODY, "alpha": 3}, format="json")
    assert response.status_code == 400 and "alpha" in response.json()
    response = tenant.client().put(f"/api/v1/campaigns/{campaign.pk}/plan",
                                   {**PLAN_BODY, "minimum_detectable_effect": 0}, format="json")
    assert response.status_code == 400 and "minimum_detectable_effect" in response.json()


def test_the_plan_api_checks_authorisation(anonymous_client, tenant, other_tenant) -> None:  # type: ignore[no-untyped-def]
    campaign, _ = campaign_with_arms(tenant.organisation)
    url = f"/api/v1/campaigns/{campaign.pk}/plan"
    assert anonymous_client.get(url).status_code == 401
    reader = tenant.client(tenant.key_with(ApiScope.CAMPAIGNS_READ))
    assert reader.put(url, PLAN_BODY, format="json").status_code == 403
    assert other_tenant.client().put(url, PLAN_BODY, format="json").status_code == 404
    assert tenant.client().get(url).status_code == 404  # no plan yet


# --- the admin page --------------------------------------------------------------------------


def admin_client(user) -> Client:  # type: ignore[no-untyped-def]
    client = Client()
    client.force_login(user)
    return client


def test_an_evaluator_sees_the_locked_plan_hash_arms_srm_and_a_chart(tenant, campaign) -> None:  # type: ignore[no-untyped-def]
    url = reverse("admin:evaluation_campaign_report", args=[campaign.pk])
    response = admin_client(tenant.manager).get(url)
    html = response.content.decode()
    assert response.status_code == 200
    assert campaign.evaluation_plan.locked_hash in html
    assert 'id="srm-verdict">OK<' in html
    assert html.count('src="data:image/svg+xml;base64,') >= 3
    assert "1,400,000" in html  # 14 days x 100,000 exposures per arm
    assert "&lt;10" in html
    csv_response = admin_client(tenant.manager).get(
        reverse("admin:evaluation_campaign_report_csv", args=[campaign.pk]))
    assert csv_response.status_code == 200 and b"1,400,000" in csv_response.content


def test_the_admin_report_is_a_404_for_another_organisation(other_tenant, campaign) -> None:  # type: ignore[no-untyped-def]
    for name in ("report", "report_csv", "report_json"):
        url = reverse(f"admin:evaluation_campaign_{name}", args=[campaign.pk])
        assert admin_client(other_tenant.manager).get(url).status_code == 404


def test_a_viewer_cannot_open_reports(tenant, campaign) -> None:  # type: ignore[no-untyped-def]
    viewer = UserFactory(username="viewer-a")
    MembershipFactory(user=viewer, organisation=tenant.organisation, role="viewer")
    url = reverse("admin:evaluation_campaign_report", args=[campaign.pk])
    assert admin_client(viewer).get(url).status_code == 403


def test_the_plan_admin_amends_a_locked_plan_only_with_a_reason(tenant, campaign) -> None:  # type: ignore[no-untyped-def]
    plan = campaign.evaluation_plan
    url = reverse("admin:evaluation_evaluationplan_change", args=[plan.pk])
    client = admin_client(tenant.manager)
    form = client.get(url).context["adminform"].form
    data = {name: form[name].value() for name in form.fields if form[name].value() is not None}
    data.update({"alpha": "0.01", "secondary_outcomes": '["helpline_contact"]',
                 "guardrail_outcomes": '["opt_out", "complaint", "delivery_failed"]'})
    refused = client.post(url, data)
    assert refused.status_code == 200 and "give the reason" in refused.content.decode()
    accepted = client.post(url, {**data, "amendment_reason": "Stricter alpha agreed."})
    assert accepted.status_code == 302
    plan.refresh_from_db()
    assert plan.alpha == 0.01 and plan.amendments.count() == 1


def test_an_id_beyond_any_row_is_a_404_not_a_database_error(tenant) -> None:  # type: ignore[no-untyped-def]
    huge = 2**70
    assert tenant.client().get(f"/api/v1/campaigns/{huge}/report").status_code == 404
    assert tenant.client().get(f"/api/v1/campaigns/{huge}/plan").status_code == 404


def test_an_undetectably_small_effect_is_a_400_naming_the_field(tenant) -> None:  # type: ignore[no-untyped-def]
    campaign, _ = campaign_with_arms(tenant.organisation)
    body = {**PLAN_BODY, "baseline_rate": 1e-9, "minimum_detectable_effect": 1e-9}
    response = tenant.client().put(f"/api/v1/campaigns/{campaign.pk}/plan", body, format="json")
    assert response.status_code == 400 and "minimum_detectable_effect" in response.json()


def test_an_error_asked_for_as_csv_is_still_readable(other_tenant, campaign) -> None:  # type: ignore[no-untyped-def]
    response = other_tenant.client().get(f"/api/v1/campaigns/{campaign.pk}/report?format=csv")
    assert response.status_code == 404 and b"detail" in response.content
