"""The derived-statistics attacker over the real report outputs (JSON/API, CSV, charts).

A hidden count must not come back from anything published beside it: a Fisher statistic
or odds ratio (the sample odds ratio gives the cells back), an exact interval (a function of
the count alone), a rate, a funnel fraction, a stratified (Mantel-Haenszel) result, the SRM
verdict, or a time-series fit over the days. The attacker also solves the arms table with
the LP of tests/test_disclosure_attacks.py, knowing that published estimates make their
counts exact.
"""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from evaluation.charts import _chart_inputs
from evaluation.exports import report_as_csv, report_as_dict
from evaluation.reports import campaign_report
from evaluation.services import plan_create, plan_lock_for_campaign
from organisations.services import Actor
from tests.evaluation.factories import campaign_with_arms, cell
from tests.test_disclosure_attacks import attack

pytestmark = pytest.mark.django_db

HIDDEN_CONTACTS = 4  # helpline contacts of the "help" arm: small, must never come back


@pytest.fixture
def report(tenant):  # type: ignore[no-untyped-def]
    campaign, arms = campaign_with_arms(tenant.organisation)
    plan_create(campaign=campaign, actor=Actor.system(),
                hypothesis="Each framing beats a neutral message on helpline contacts.",
                primary_outcome="helpline_contact", secondary_outcomes=["help_click"],
                comparator_kind="neutral_control",
                comparator_rationale="All arms signpost help; none withholds it.",
                unit_of_analysis="session", baseline_rate=0.0002,
                minimum_detectable_effect=0.5, sequential=True)
    plan_lock_for_campaign(campaign=campaign)
    for i in range(10):
        day = date(2026, 11, 1) + timedelta(days=i)
        cell(campaign, arms["control"], day=day, exposures=20_000, help_click=30,
             helpline_contact=6)
        cell(campaign, arms["legal"], day=day, exposures=20_000, help_click=35,
             helpline_contact=7)
        cell(campaign, arms["help"], day=day, exposures=20_000, help_click=40,
             helpline_contact=1 if i < HIDDEN_CONTACTS else 0)
    return campaign_report(campaign=campaign)


def comparison(body: dict, outcome: str, variant: str) -> dict:
    return next(c for c in [*body["comparisons"], *body["secondary_comparisons"]]
                if c["outcome"] == outcome and c["variant"] == variant)


def test_the_json_report_publishes_no_statistic_of_a_hidden_comparison(report) -> None:  # type: ignore[no-untyped-def]
    body = report_as_dict(report)
    hidden = comparison(body, "helpline_contact", "help")
    assert hidden["shown"] is False
    for field in ("test", "odds_ratio", "risk_ratio", "risk_difference", "rate_ratio",
                  "rate_test", "variant_proportion", "sequential", "adjusted_p_value",
                  "significant"):
        assert hidden[field] is None, field


def test_no_rate_interval_or_fraction_of_the_hidden_arm_is_published(report) -> None:  # type: ignore[no-untyped-def]
    body = report_as_dict(report)
    help_arm = next(a for a in body["arms"] if a["name"] == "help")
    assert help_arm["outcomes"]["helpline_contact"]["suppressed"]
    assert help_arm["rates"]["helpline_contact"] is None
    stages = {s["label"]: s for s in body["funnel"]["help"]}
    assert stages["helpline_contact"]["conversion"] is None


def test_the_lp_attacker_cannot_narrow_the_hidden_count_from_the_arms_table(report) -> None:  # type: ignore[no-untyped-def]
    # Published rates give every shown arm's count away exactly: the attacker uses them.
    body = report_as_dict(report)
    policy = report.policy
    displays, exact = {}, {}
    for arm in body["arms"]:
        cell_ = arm["outcomes"]["helpline_contact"]
        displays[arm["name"]] = cell_["display"]
        rate = arm["rates"]["helpline_contact"]
        if rate is not None:  # rate per 100,000 x exposures (exact: the rate reveals them)
            exact[arm["name"]] = round(rate["rate"] * 200_000 / 100_000)
    displays["all"] = body["totals"]["outcomes"]["helpline_contact"]["display"]
    for name, value in exact.items():
        displays[name] = str(value)
    unrounded = type(policy)(threshold=policy.threshold, rounding_base=1)
    ranges = attack(displays, [("all", [a["name"] for a in body["arms"]])], unrounded)
    low, high = ranges["help"]
    assert low <= 1 and high >= policy.threshold - 1


def test_the_stratified_and_daily_results_do_not_give_the_count_back(report) -> None:  # type: ignore[no-untyped-def]
    body = report_as_dict(report)
    for view in body["stratified"]:
        if view["variant"] == "help":
            assert view["shown"] is False and view["result"] is None
    for breakdown in body["daily"]:
        if breakdown["title"].startswith("helpline_contact"):
            column = breakdown["arms"].index("help")
            shown = [row["cells"][column] for row in breakdown["rows"]]
            assert all(v in ("0", "<10", "[c]") for v in shown)


def test_the_csv_and_the_charts_carry_nothing_the_json_hides(report) -> None:  # type: ignore[no-untyped-def]
    text = report_as_csv(report)
    row = next(line for line in text.splitlines()
               if line.startswith("comparisons,helpline_contact,help,"))
    assert ",hidden," in row and not any(ch.isdigit() for ch in row.split(",hidden,")[1])
    # Charts draw from the report object only: the hidden arm's rate point is not there.
    assert "('help', None)" in _chart_inputs(report)


def test_the_srm_verdict_is_hidden_with_its_counts(tenant) -> None:  # type: ignore[no-untyped-def]
    campaign, arms = campaign_with_arms(tenant.organisation)
    cell(campaign, arms["control"], day=date(2026, 11, 1), exposures=20_000)
    cell(campaign, arms["legal"], day=date(2026, 11, 1), exposures=20_000)
    cell(campaign, arms["help"], day=date(2026, 11, 1), exposures=5)
    srm = report_as_dict(campaign_report(campaign=campaign, with_population=False))["srm"]
    assert srm["verdict"] == "hidden"
    assert srm["p_value"] is None and srm["statistic"] is None and srm["flagged_days"] == []
