"""Learners: pseudonymous enrolment attributed to the invitation's exposure, progress, the
knowledge check (first answer counts), completion, mentoring requests and their purge."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from core.errors import InvalidInput
from evaluation.models import Outcome
from interventions.links import via_token
from learning import learners
from learning.contacts import contact_unseal
from learning.learners import BadInvitation
from learning.models import Answer, Learner, MentoringRequest
from learning.selectors import learner_by_token
from tests.learning.factories import invitation, published_module

pytestmark = pytest.mark.django_db


def right_answers(module, wrong: bool = False) -> dict[str, str]:
    return {f"q{q.pk}": str((q.correct_choice + (1 if wrong else 0)) % len(q.choices))
            for q in module.questions.all()}


def finish(learner) -> None:  # type: ignore[no-untyped-def]
    learners.answers_record(learner=learner, phase="pre", raw=right_answers(learner.module,
                                                                            wrong=True))
    for lesson in learner.module.lessons.all():
        learners.lesson_complete(learner=learner, lesson=lesson)
    learners.answers_record(learner=learner, phase="post", raw=right_answers(learner.module))


def test_enrolment_stores_only_the_hash_of_the_token(tenant):
    module = published_module(tenant)
    learner, token = learners.learner_enrol(module=module)
    assert len(token) >= 43
    with connection.cursor() as cursor:
        cursor.execute("SELECT token_hash FROM learning_learner")
        stored = [row[0] for row in cursor.fetchall()]
    assert token not in stored[0] and len(stored[0]) == 64
    assert learner_by_token(token) == learner
    assert learner_by_token(token + "x") is None


def test_an_email_is_stored_encrypted_and_a_resume_link_is_sent(
        tenant, django_capture_on_commit_callbacks, mailoutbox):
    module = published_module(tenant)
    with django_capture_on_commit_callbacks(execute=True):
        learner, token = learners.learner_enrol(
            module=module, email="teacher@example.org",
            resume_url=lambda t: f"https://outreach.example/learn/r/{t}/")
    learner.refresh_from_db()
    assert "teacher@example.org" not in learner.email_sealed
    assert contact_unseal(learner.data_key, learner.email_sealed,
                          organisation_id=tenant.organisation.pk,
                          purpose="email") == "teacher@example.org"
    assert [m.to for m in mailoutbox] == [["teacher@example.org"]]
    assert f"/learn/r/{token}/" in mailoutbox[0].body


def test_a_bad_email_is_refused_naming_the_field(tenant):
    module = published_module(tenant)
    for bad in ("not-an-address", "x" * 300 + "@example.org"):
        with pytest.raises(InvalidInput) as raised:
            learners.learner_enrol(module=module, email=bad)
        assert raised.value.field == "email"
    assert Learner.objects.count() == 0


def test_enrolment_and_completion_are_outcomes_of_the_invitations_exposure(tenant):
    module = published_module(tenant)
    exposure, via = invitation(tenant, module)
    learner, _ = learners.learner_enrol(module=module, via=via)
    assert (learner.exposure_id, learner.campaign_id, learner.arm_id) == (
        exposure.pk, exposure.campaign_id, exposure.arm_id)
    finish(learner)
    outcomes = sorted(Outcome.objects.filter(exposure=exposure).values_list("kind", flat=True))
    assert outcomes == ["module_completed", "module_enrolled"]


def test_enrolling_twice_from_one_invitation_counts_one_enrolment(tenant):
    module = published_module(tenant)
    exposure, via = invitation(tenant, module)
    learners.learner_enrol(module=module, via=via)
    learners.learner_enrol(module=module, via=via)
    assert Outcome.objects.filter(exposure=exposure, kind="module_enrolled").count() == 1


def test_a_tampered_or_foreign_invitation_is_refused(tenant, other_tenant):
    module = published_module(tenant)
    _, via = invitation(tenant, module)
    with pytest.raises(BadInvitation):
        learners.learner_enrol(module=module, via=via[:-2] + "xx")
    other = published_module(other_tenant)
    other_exposure, _ = invitation(other_tenant, other)
    forged = via_token(exposure_id=other_exposure.pk, resource_id=module.help_resource_id)
    with pytest.raises(BadInvitation):  # another organisation's exposure
        learners.learner_enrol(module=module, via=forged)
    with pytest.raises(BadInvitation):  # signed for another module
        learners.learner_enrol(module=other, via=via)
    assert Learner.objects.count() == 0


def test_answering_twice_keeps_the_first_answers(tenant):
    module = published_module(tenant)
    learner, _ = learners.learner_enrol(module=module)
    assert learners.answers_record(learner=learner, phase="pre",
                                   raw=right_answers(module, wrong=True)) == 3
    assert learners.answers_record(learner=learner, phase="pre", raw=right_answers(module)) == 0
    assert not Answer.objects.filter(learner=learner, correct=True).exists()


@pytest.mark.parametrize("value, message", [("9" * 5000, "too long"), ("7", "not one of"),
                                            ("", "no answer"), ("-1", "not one of")])
def test_bad_answers_are_refused_with_a_clear_error(tenant, value, message):
    module = published_module(tenant)
    learner, _ = learners.learner_enrol(module=module)
    raw = right_answers(module)
    first = module.questions.order_by("position").first()
    raw[f"q{first.pk}"] = value
    with pytest.raises(InvalidInput, match=message) as raised:
        learners.answers_record(learner=learner, phase="pre", raw=raw)
    assert raised.value.field == f"q{first.pk}"
    assert not Answer.objects.exists()


def test_the_final_questions_wait_for_the_lessons(tenant):
    module = published_module(tenant)
    learner, _ = learners.learner_enrol(module=module)
    with pytest.raises(InvalidInput, match="Finish the lessons"):
        learners.answers_record(learner=learner, phase="post", raw=right_answers(module))


def test_completion_needs_every_lesson_and_the_final_questions(tenant):
    module = published_module(tenant)
    learner, _ = learners.learner_enrol(module=module)
    for lesson in module.lessons.all():
        learners.lesson_complete(learner=learner, lesson=lesson)
    learner.refresh_from_db()
    assert learner.completed_at is None
    learners.answers_record(learner=learner, phase="post", raw=right_answers(module))
    learner.refresh_from_db()
    assert learner.completed_at is not None
    assert learners.learner_state(learner).next_step == "certificate"


def test_a_lesson_of_another_module_is_refused(tenant):
    module = published_module(tenant)
    other = published_module(tenant, slug="second")
    learner, _ = learners.learner_enrol(module=module)
    with pytest.raises(InvalidInput):
        learners.lesson_complete(learner=learner, lesson=other.lessons.first())


def test_a_mentoring_request_is_encrypted_and_purged_after_the_retention_window(tenant,
                                                                                 settings):
    settings.LEARNING_MENTORING_RETENTION_DAYS = 30
    module = published_module(tenant)
    learner, _ = learners.learner_enrol(module=module)
    request = learners.mentoring_request_create(learner=learner, contact="+441234567890",
                                                message="Support for our staff team.")
    assert "+441234567890" not in request.contact_sealed
    assert contact_unseal(request.data_key, request.contact_sealed,
                          organisation_id=tenant.organisation.pk,
                          purpose="contact") == "+441234567890"
    assert learners.mentoring_requests_purge(now=timezone.now() + timedelta(days=29)) == 0
    assert learners.mentoring_requests_purge(now=timezone.now() + timedelta(days=31)) == 1
    assert not MentoringRequest.objects.exists()


def test_a_learners_email_is_shredded_after_the_retention_window(tenant, settings):
    settings.LEARNING_MENTORING_RETENTION_DAYS = 30
    module = published_module(tenant)
    learner, token = learners.learner_enrol(module=module, email="teacher@example.org")
    learners.mentoring_requests_purge(now=timezone.now() + timedelta(days=31))
    learner.refresh_from_db()
    assert (learner.data_key, learner.email_sealed, learner.email_index) == ("", "", "")
    assert learner_by_token(token) == learner  # the progress stays, only the address goes


def test_mentoring_requests_refuse_empty_or_oversized_input(tenant):
    module = published_module(tenant)
    learner, _ = learners.learner_enrol(module=module)
    with pytest.raises(InvalidInput) as raised:
        learners.mentoring_request_create(learner=learner, contact=" ")
    assert raised.value.field == "contact"
    with pytest.raises(InvalidInput) as raised:
        learners.mentoring_request_create(learner=learner, contact="a@example.org",
                                          message="x" * 2001)
    assert raised.value.field == "message"
