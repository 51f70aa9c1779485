"""Admin: modules are reviewed through the services (four eyes holds there too), lessons are
saved through lesson_put, another organisation's module is invisible, the beat tasks exist."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from learning.models import LessonText, Module, ReviewState
from tests.learning.factories import draft_module

pytestmark = pytest.mark.django_db


def staff(user) -> Client:  # type: ignore[no-untyped-def]
    client = Client()
    client.force_login(user)
    return client


def act(client: Client, action: str, module: Module):  # type: ignore[no-untyped-def]
    return client.post(reverse("admin:learning_module_changelist"),
                       {"action": action, "_selected_action": [module.pk]}, follow=True)


def test_the_author_cannot_approve_through_the_admin_and_a_reviewer_can(tenant):
    module = draft_module(tenant)
    manager, reviewer = staff(tenant.manager), staff(tenant.reviewer)
    act(manager, "submit", module)
    response = act(manager, "approve", module)
    module.refresh_from_db()
    assert module.state == ReviewState.IN_REVIEW and b"four eyes" in response.content
    act(reviewer, "approve", module)
    act(manager, "publish", module)
    module.refresh_from_db()
    assert module.state == ReviewState.PUBLISHED and module.help_resource_id


def test_a_reviewer_cannot_publish(tenant):
    module = draft_module(tenant)
    act(staff(tenant.manager), "submit", module)
    act(staff(tenant.reviewer), "approve", module)
    response = act(staff(tenant.reviewer), "publish", module)
    module.refresh_from_db()
    assert module.state == ReviewState.APPROVED and b"Your role cannot" in response.content


def test_another_organisations_module_is_not_found(tenant, other_tenant):
    module = draft_module(tenant)
    url = reverse("admin:learning_module_change", args=[module.pk])
    assert staff(tenant.manager).get(url).status_code == 200
    assert staff(other_tenant.manager).get(url).status_code in (302, 404)
    act(staff(other_tenant.manager), "submit", module)
    module.refresh_from_db()
    assert module.state == ReviewState.DRAFT


def test_a_lesson_saved_in_the_admin_goes_through_the_review_rules(tenant):
    module = draft_module(tenant)
    client = staff(tenant.manager)
    act(client, "submit", module)
    response = client.post(reverse("admin:learning_lessontext_add"), {
        "module": module.pk, "position": 3, "language": "en", "title": "Lesson 3",
        "body": "More **help**."})
    assert response.status_code == 302
    module.refresh_from_db()
    assert module.state == ReviewState.DRAFT  # edited content goes back to draft
    assert LessonText.objects.filter(lesson__module=module, lesson__position=3).exists()


def test_the_module_list_has_a_re_review_filter(tenant):
    draft_module(tenant)
    response = staff(tenant.manager).get(reverse("admin:learning_module_changelist"),
                                         {"rereview": "yes"})
    assert response.status_code == 200 and b"0 modules" in response.content


def test_the_beat_runs_the_purge_and_the_sources_check():
    from learning.tasks import BEAT_SCHEDULE

    tasks = {entry["task"] for entry in BEAT_SCHEDULE.values()}
    assert tasks == {"learning.mentoring_requests_purge", "learning.law_modules_check"}


def test_another_organisations_module_cannot_be_picked_for_a_lesson(tenant, other_tenant):
    module = draft_module(tenant)
    response = staff(other_tenant.manager).post(reverse("admin:learning_lessontext_add"), {
        "module": module.pk, "position": 9, "language": "en", "title": "X", "body": "X"})
    assert response.status_code == 200  # the form again, with an error
    assert not LessonText.objects.filter(lesson__position=9).exists()


def test_a_module_added_in_the_admin_is_written_by_the_service(tenant):
    response = staff(tenant.manager).post(reverse("admin:learning_module_add"), {
        "slug": "for-parents", "title": "Keeping children safe online", "summary": "",
        "audience": "parent_carer", "kind": "standard", "jurisdiction": "",
        "default_language": "en", "languages": '["en"]', "countries": '["GB"]',
        "questions-TOTAL_FORMS": "0", "questions-INITIAL_FORMS": "0"})
    assert response.status_code == 302, response.content[:2000]
    module = Module.objects.get(slug="for-parents")
    assert (module.organisation, module.created_by) == (tenant.organisation, tenant.manager)
