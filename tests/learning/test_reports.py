"""The learning report: paired knowledge gain (known answers), disclosure, the funnel by
campaign and arm, the admin pages and CSV, and the section on the campaign's report."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from core.disclosure import DisclosurePolicy
from evaluation.models import DisclosureSettings
from learning import learners
from learning.reports import learning_report, paired_change
from tests.learning.factories import invitation, published_module
from tests.learning.test_learners import finish

OFF = DisclosurePolicy(enabled=False)


def test_ten_learners_who_all_improve_give_the_exact_sign_and_signed_rank_p_values():
    pairs = [(0.0, 0.05 * k) for k in range(1, 11)]  # ten distinct positive changes
    result = paired_change(pairs)
    assert result.n == 10 and (result.improved, result.worsened) == (10, 0)
    assert result.sign_test_p == pytest.approx(2 / 2**10)
    assert result.wilcoxon_p == pytest.approx(2 / 2**10)
    assert result.improved_interval[0] == pytest.approx(0.69150, abs=1e-4)  # Clopper-Pearson
    assert result.improved_interval[1] == 1.0
    # Order statistics x(2) and x(9) of the sign test: coverage 1 - 2 * P(B <= 1) = 97.9%.
    assert result.median_interval == pytest.approx((0.10, 0.45))
    assert result.median_change == pytest.approx(0.275)


def test_too_few_pairs_have_no_median_interval_and_no_pairs_no_result():
    assert paired_change([(0.0, 1.0)] * 5).median_interval is None
    assert paired_change([]) is None


def test_unchanged_scores_have_no_p_value():
    result = paired_change([(0.5, 0.5)] * 12)
    assert result.sign_test_p is None and result.improved_share is None


@pytest.mark.django_db
def test_a_small_number_of_pairs_is_hidden_with_its_statistics(tenant):
    module = published_module(tenant)
    for _ in range(3):
        learner, _ = learners.learner_enrol(module=module)
        finish(learner)
    report = learning_report(modules=[module], policy=DisclosurePolicy())
    row = report.by_module[0]
    assert row.pairs.display == "<10" and row.result is None
    assert report.by_audience[0].result is None and report.all_modules.result is None


@pytest.mark.django_db
def test_gain_and_funnel_are_reported_by_module_audience_campaign_and_arm(tenant):
    module = published_module(tenant)
    exposure, via = invitation(tenant, module, arm_name="letter")
    for n in range(4):
        learner, _ = learners.learner_enrol(module=module, via=via)
        if n < 3:
            finish(learner)
    report = learning_report(modules=[module], policy=OFF)
    gain = report.by_module[0]
    assert gain.pairs.value == 3 and gain.result.pre_mean == 0 and gain.result.post_mean == 1
    assert report.by_audience[0].label == "Teacher"
    funnel = report.funnel[0]
    assert (funnel.campaign, funnel.arm) == (exposure.campaign.name, "letter")
    assert {k: c.value for k, c in funnel.stages.items()} == {
        "enrolled": 4, "started": 3, "lessons_finished": 3, "completed": 3}


def staff(user) -> Client:  # type: ignore[no-untyped-def]
    client = Client()
    client.force_login(user)
    return client


@pytest.mark.django_db
def test_the_admin_report_and_its_csv_show_only_our_modules(tenant, other_tenant):
    ours = published_module(tenant)
    published_module(other_tenant, slug="theirs")
    learner, _ = learners.learner_enrol(module=ours)
    finish(learner)
    page = staff(tenant.manager).get(reverse("admin:learning_report"))
    assert page.status_code == 200
    assert ours.title.encode() in page.content
    csv_text = staff(tenant.manager).get(reverse("admin:learning_report_csv")).content.decode()
    assert "knowledge gain" in csv_text and "<10" in csv_text
    theirs = staff(other_tenant.manager).get(reverse("admin:learning_report")).content.decode()
    assert theirs.count("Recognising and responding") == 1  # only their own module


@pytest.mark.django_db
def test_the_campaigns_report_page_shows_enrolment_completion_and_knowledge_gain(tenant):
    module = published_module(tenant)
    exposure, via = invitation(tenant, module)
    DisclosureSettings.objects.create(organisation=tenant.organisation, enabled=False)
    learner, _ = learners.learner_enrol(module=module, via=via)
    finish(learner)
    url = reverse("admin:evaluation_campaign_report", args=[exposure.campaign_id])
    html = staff(tenant.manager).get(url).content.decode()
    assert 'id="learning"' in html
    assert 'data-stage="enrolled">1<' in html and 'data-stage="completed">1<' in html
    assert "Knowledge gain" in html and "1.00" in html  # mean score after


@pytest.mark.django_db
def test_the_mentoring_queue_shows_contact_details_only_to_our_staff(tenant, other_tenant):
    module = published_module(tenant)
    learner, _ = learners.learner_enrol(module=module)
    request = learners.mentoring_request_create(learner=learner, contact="lead@example.org")
    url = reverse("admin:learning_mentoringrequest_change", args=[request.pk])
    assert b"lead@example.org" in staff(tenant.manager).get(url).content
    assert staff(other_tenant.manager).get(url).status_code in (302, 404)
    listing = staff(tenant.manager).get(reverse("admin:learning_mentoringrequest_changelist"))
    assert listing.status_code == 200 and b"lead@example.org" not in listing.content


@pytest.mark.django_db
def test_a_hidden_module_cannot_be_worked_out_from_its_audiences_statistics(tenant):
    small = published_module(tenant, slug="small")
    large = published_module(tenant, slug="large")
    for module, count in ((small, 3), (large, 20)):
        for _ in range(count):
            learner, _ = learners.learner_enrol(module=module)
            finish(learner)
    report = learning_report(modules=[small, large], policy=DisclosurePolicy())
    assert report.by_module[0].result is None  # 3 pairs
    teacher = report.by_audience[0]
    # The statistics give their pair counts away exactly: the large module's and the
    # audience's may not both be shown, or 23 - 20 would reveal the small module's 3.
    shown = [r for r in (*report.by_module, teacher, report.all_modules)
             if r.result is not None]
    assert not ({r.result.n for r in shown} >= {20, 23}), [r.result.n for r in shown]


@pytest.mark.django_db
def test_the_learners_who_stopped_between_two_stages_cannot_be_worked_out(tenant):
    # 12 enrolled, 11 finished: rounded to 10 and 10, a reader would know that 0 to 2 left
    # after enrolling (12 - 10 .. 12 - 10). The overlap of the two stages is protected: a
    # stage is hidden until the difference may again be anything from 1 to 9.
    from tests.test_disclosure_overlaps import solve

    module = published_module(tenant)
    _, via = invitation(tenant, module, arm_name="letter")
    for n in range(12):
        learner, _ = learners.learner_enrol(module=module, via=via)
        if n < 11:
            finish(learner)
    policy = DisclosurePolicy()
    report = learning_report(modules=[module], policy=policy)
    stages = report.funnel[0].stages
    displays = {("s", i): stages[s].display for i, s in enumerate(
        ("enrolled", "started", "lessons_finished", "completed"))}
    # the reader knows the stages are nested: stage i = stage i+1 + those who left after it
    latent = [("left", i) for i in range(3)]
    sums = [(("s", i), [("s", i + 1), ("left", i)]) for i in range(3)]
    low, high = solve(displays, latent, sums, policy, ("left", 0))
    assert low <= 1 and high >= policy.threshold - 1, displays
