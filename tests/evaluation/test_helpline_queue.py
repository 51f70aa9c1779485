"""The system's outcome writer, and the helpline queue's outcomes in the campaign report:
helpline_answered / helpline_abandoned beside helpline_contact where the campaign signposts a
helpline hosted here, disclosed like every figure, and never a goal of a plan by accident."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from core.disclosure import DisclosurePolicy
from core.errors import InvalidInput
from evaluation.models import Outcome
from evaluation.reports import campaign_report, context
from evaluation.reports.table import _disclosure_table
from evaluation.services import outcome_record, outcome_record_like, plan_create
from organisations.services import Actor
from tests.evaluation.factories import campaign_with_arms, cell, expose
from tests.test_disclosure_attacks import attacker_bounds, cell_range

pytestmark = pytest.mark.django_db

QUEUE = ("helpline_answered", "helpline_abandoned")
PLAN = {
    "hypothesis": "A help framing raises helpline contacts over a neutral message.",
    "primary_outcome": "helpline_contact", "comparator_kind": "neutral_control",
    "comparator_rationale": "All arms signpost help; none withholds it.",
    "unit_of_analysis": "session", "baseline_rate": 0.002, "minimum_detectable_effect": 0.5,
}


@pytest.fixture
def signposting(monkeypatch):  # type: ignore[no-untyped-def]
    """The wiring's check (helpline.selectors) answers yes for every campaign."""
    monkeypatch.setattr(context, "SIGNPOSTS_HELPLINE", [lambda campaign: True])


# --- the writer ---------------------------------------------------------------------------------


def test_an_outcome_is_attributed_to_an_exposure_or_a_campaign_and_counts_once(tenant) -> None:  # type: ignore[no-untyped-def]
    campaign, arms = campaign_with_arms(tenant.organisation)
    exposure = expose(campaign, arms["legal"], 1)
    for _ in range(2):
        outcome_record(kind="help_click", idempotency_key="click:1", exposure=exposure)
    outcome_record(kind="helpline_contact", idempotency_key="helpline:1", campaign=campaign,
                   reported_by_id=tenant.organisation.pk)
    rows = {o.kind: o for o in Outcome.objects.all()}
    assert len(Outcome.objects.all()) == 2
    click = rows["help_click"]
    assert (click.exposure, click.campaign, click.organisation, click.reported_by) == (
        exposure, campaign, tenant.organisation, tenant.organisation)
    assert (rows["helpline_contact"].exposure, rows["helpline_contact"].campaign) == (
        None, campaign)


def test_an_outcome_needs_a_known_kind_and_an_exposure_or_a_campaign(tenant) -> None:  # type: ignore[no-untyped-def]
    campaign, _ = campaign_with_arms(tenant.organisation)
    with pytest.raises(InvalidInput) as error:
        outcome_record(kind="not_a_kind", idempotency_key="k", campaign=campaign)
    assert error.value.field == "kind"
    with pytest.raises(InvalidInput) as error:
        outcome_record(kind="help_click", idempotency_key="k")
    assert error.value.field == "exposure"
    assert not Outcome.objects.exists()


def test_a_follow_up_copies_the_first_outcomes_attribution_or_writes_nothing(tenant) -> None:  # type: ignore[no-untyped-def]
    campaign, arms = campaign_with_arms(tenant.organisation)
    exposure = expose(campaign, arms["help"], 1)
    org = tenant.organisation.pk
    outcome_record(kind="helpline_contact", idempotency_key="first", exposure=exposure,
                   reported_by_id=org)
    assert outcome_record_like(reported_by_id=org, like_key="first", kind="helpline_answered",
                               idempotency_key="then")
    assert not outcome_record_like(reported_by_id=org, like_key="missing",
                                   kind="helpline_answered", idempotency_key="other")
    assert not outcome_record_like(reported_by_id=org + 1000, like_key="first",  # not ours
                                   kind="helpline_answered", idempotency_key="other")
    then = Outcome.objects.get(idempotency_key="then")
    assert (then.kind, then.exposure, then.campaign) == ("helpline_answered", exposure, campaign)
    assert Outcome.objects.count() == 2


# --- the report ---------------------------------------------------------------------------------


def _cells(campaign, arms) -> None:  # type: ignore[no-untyped-def]
    """Every contact answered or abandoned (none left waiting); the comparator's 4 abandoned
    is a small count."""
    cell(campaign, arms["control"], exposures=20_000, help_click=30, helpline_contact=48,
         helpline_answered=44, helpline_abandoned=4)
    cell(campaign, arms["legal"], exposures=20_000, help_click=35, helpline_contact=80,
         helpline_answered=60, helpline_abandoned=20)
    cell(campaign, arms["help"], exposures=20_000, help_click=40, helpline_contact=65,
         helpline_answered=50, helpline_abandoned=15)


def test_without_a_hosted_helpline_the_report_is_as_before(tenant) -> None:  # type: ignore[no-untyped-def]
    campaign, arms = campaign_with_arms(tenant.organisation)
    _cells(campaign, arms)
    report = campaign_report(campaign=campaign, with_population=False)
    assert not set(QUEUE) & set(report.outcome_kinds)
    assert [s.label for s in report.funnel["legal"]] == [
        "exposures", "info_requested", "help_click", "helpline_contact"]


def test_the_funnel_shows_answered_and_abandoned_as_shares_of_the_contacts(  # type: ignore[no-untyped-def]
        tenant, signposting) -> None:
    campaign, arms = campaign_with_arms(tenant.organisation)
    _cells(campaign, arms)
    report = campaign_report(campaign=campaign, with_population=False)
    legal = {s.label: s for s in report.funnel["legal"]}
    assert [s.label for s in report.funnel["legal"]][-3:] == ["helpline_contact", *QUEUE]
    assert (legal["helpline_answered"].count.display, legal["helpline_answered"].of,
            legal["helpline_answered"].conversion) == ("60", "helpline_contact",
                                                       pytest.approx(60 / 80))
    assert legal["helpline_abandoned"].conversion == pytest.approx(20 / 80)
    assert legal["helpline_contact"].of == "help_click"
    control = {s.label: s for s in report.funnel["control"]}
    assert control["helpline_abandoned"].count.display == "<10"  # 4: small, suppressed
    assert control["helpline_abandoned"].count.value is None
    assert control["helpline_abandoned"].conversion is None
    # Its contacts less its answered would bound the 4 (at most 4): answered is hidden too.
    assert control["helpline_answered"].count.display == "[c]"
    # The other arms' figures are exact (their rates are published): the totals would give
    # the comparator's back, so they are hidden as well.
    totals = {s.label: s for s in report.funnel["All arms"]}
    assert totals["helpline_abandoned"].count.display == "[c]"
    assert totals["helpline_answered"].count.display == "[c]"
    assert totals["helpline_contact"].count.display == "195"  # 193, rounded to 5


def test_the_lp_attacker_cannot_narrow_the_contacts_left_waiting(tenant, signposting) -> None:  # type: ignore[no-untyped-def]
    # One contact of the comparator arm is neither answered nor abandoned (still waiting):
    # with every rate published, contacts - answered - abandoned would give it back exactly.
    # The table with the queue (before the report decides whether to show it) must hold.
    campaign, arms = campaign_with_arms(tenant.organisation, {"control": "comparator",
                                                              "legal": "variant"})
    cell(campaign, arms["control"], exposures=20_000, helpline_contact=50, helpline_answered=49)
    cell(campaign, arms["legal"], exposures=20_000, helpline_contact=60, helpline_answered=45,
         helpline_abandoned=15)
    ctx = context._context(campaign, DisclosurePolicy())
    assert ctx.helpline
    shown = _disclosure_table(ctx).publish()
    keys, bounds, sums = [], [], []
    for arm in ctx.arms:
        for kind in ("helpline_contact", *QUEUE):
            keys.append((arm.pk, kind))
            if shown.shown(("rate", kind, arm.pk)):  # a published rate gives its count back
                exact = ctx.count(arm.pk, kind)
                bounds.append((exact, exact))
            else:
                bounds.append(attacker_bounds(shown[("arm", kind, arm.pk)].display, ctx.policy))
        keys.append((arm.pk, "rest"))
        bounds.append((0, None))
        sums.append(((arm.pk, "helpline_contact"), [(arm.pk, k) for k in (*QUEUE, "rest")]))
    for kind in ("helpline_contact", *QUEUE):
        keys.append(("all", kind))
        bounds.append(attacker_bounds(shown[("all", kind)].display, ctx.policy))
        sums.append((("all", kind), [(a.pk, kind) for a in ctx.arms]))
    low, high = cell_range(keys, bounds, sums, (arms["control"].pk, "rest"))
    assert low <= 1 and high >= ctx.policy.threshold - 1


def test_a_queue_that_would_hide_an_analysis_figure_is_left_out_with_a_note(  # type: ignore[no-untyped-def]
        tenant, signposting) -> None:
    campaign, arms = campaign_with_arms(tenant.organisation, {"control": "comparator",
                                                              "legal": "variant"})
    cell(campaign, arms["control"], exposures=20_000, help_click=30, helpline_contact=50,
         helpline_answered=49)  # one still waiting: protecting it would hide the contacts
    cell(campaign, arms["legal"], exposures=20_000, help_click=35, helpline_contact=60,
         helpline_answered=45, helpline_abandoned=15)
    report = campaign_report(campaign=campaign, with_population=False)
    assert not set(QUEUE) & set(report.outcome_kinds)
    assert [s.label for s in report.funnel["control"]][-1] == "helpline_contact"
    assert report.funnel["control"][-1].count.display == "50"
    assert any("answered, abandoned" in note for note in report.notes)
    contact = next(c for c in report.secondary_comparisons if c.outcome == "helpline_contact")
    assert contact.shown


def test_the_queue_is_described_not_compared_unless_the_plan_names_it(tenant, signposting) -> None:  # type: ignore[no-untyped-def]
    campaign, arms = campaign_with_arms(tenant.organisation)
    plan_create(campaign=campaign, actor=Actor.system(), **PLAN)
    _cells(campaign, arms)
    report = campaign_report(campaign=campaign, with_population=False)
    assert set(QUEUE) <= set(report.outcome_kinds)  # counts and rates per arm
    compared = {c.outcome for c in report.secondary_comparisons}
    assert compared and not compared & set(QUEUE)

    other, other_arms = campaign_with_arms(tenant.organisation)
    plan_create(campaign=other, actor=Actor.system(), **PLAN,
                secondary_outcomes=["helpline_answered"],
                guardrail_outcomes=["opt_out", "helpline_abandoned"])
    _cells(other, other_arms)
    report = campaign_report(campaign=other, with_population=False)
    compared = {c.outcome for c in report.secondary_comparisons}
    assert set(QUEUE) <= compared


@pytest.mark.parametrize(("field", "value"), [
    ("primary_outcome", "helpline_abandoned"),
    ("secondary_outcomes", ["helpline_contact", "helpline_abandoned"]),
])
def test_a_plan_may_not_aim_for_people_leaving_the_queue(tenant, field, value) -> None:  # type: ignore[no-untyped-def]
    campaign, _ = campaign_with_arms(tenant.organisation)
    with pytest.raises(InvalidInput) as error:
        plan_create(campaign=campaign, actor=Actor.system(), **{**PLAN, field: value})
    assert error.value.field == field
    response = tenant.client().put(f"/api/v1/campaigns/{campaign.pk}/plan", {
        **PLAN, "alpha": 0.05, "power": 0.8, field: value}, format="json")
    assert response.status_code == 400 and field in response.json()


def test_a_plan_may_aim_for_answered_contacts_and_guard_against_abandoned_ones(tenant) -> None:  # type: ignore[no-untyped-def]
    campaign, _ = campaign_with_arms(tenant.organisation)
    plan = plan_create(campaign=campaign, actor=Actor.system(),
                       **{**PLAN, "primary_outcome": "helpline_answered"},
                       guardrail_outcomes=["helpline_abandoned"])
    assert (plan.primary_outcome, plan.guardrail_outcomes) == (
        "helpline_answered", ["helpline_abandoned"])


def test_the_admin_page_shows_the_queue_beside_the_contacts_and_another_org_gets_404(  # type: ignore[no-untyped-def]
        tenant, other_tenant, signposting) -> None:
    campaign, arms = campaign_with_arms(tenant.organisation)
    _cells(campaign, arms)
    url = reverse("admin:evaluation_campaign_report", args=[campaign.pk])
    page = _signed_in(tenant.manager).get(url)
    assert page.status_code == 200
    funnel = page.content.decode().split('<section id="funnel">', 1)[1].split("</section>")[0]
    assert "<th class=\"num\">helpline_answered</th>" in funnel
    assert "<th class=\"num\">helpline_abandoned</th>" in funnel
    assert 'id="helpline-queue-note"' in funnel and "&lt;10" in funnel
    for name in ("report", "report_csv", "report_json"):
        other = reverse(f"admin:evaluation_campaign_{name}", args=[campaign.pk])
        assert _signed_in(other_tenant.manager).get(other).status_code == 404


def _signed_in(user) -> Client:  # type: ignore[no-untyped-def]
    client = Client()
    client.force_login(user)
    return client
