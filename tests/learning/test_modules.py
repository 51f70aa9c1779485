"""Modules: authoring, four-eyes review, publication as a hosted help resource, Markdown
sanitising and the one language fallback chain."""

from __future__ import annotations

import pytest

from core.errors import Conflict, InvalidInput
from directory.selectors import help_resources_for
from learning import services
from learning.markdown import markdown_html
from learning.models import ReviewState
from learning.selectors import lessons_for
from organisations.models import AuditEvent
from organisations.services import Actor
from tests.factories import MembershipFactory, UserFactory
from tests.learning.factories import draft_module, publish, published_module

pytestmark = pytest.mark.django_db


def test_the_author_cannot_approve_their_own_module(tenant):
    module = draft_module(tenant)
    services.module_submit(module=module, actor=Actor(user=tenant.manager))
    with pytest.raises(services.NotAllowed, match="four eyes"):
        services.module_approve(module=module, actor=Actor(user=tenant.manager))
    module.refresh_from_db()
    assert module.state == ReviewState.IN_REVIEW


def test_the_submitter_cannot_approve_either(tenant):
    module = draft_module(tenant)
    submitter = UserFactory(username="submitter")
    MembershipFactory(user=submitter, organisation=tenant.organisation, role="reviewer")
    services.module_submit(module=module, actor=Actor(user=submitter))
    with pytest.raises(services.NotAllowed, match="four eyes"):
        services.module_approve(module=module, actor=Actor(user=submitter))


def test_a_reviewer_of_another_organisation_cannot_approve(tenant, other_tenant):
    module = draft_module(tenant)
    services.module_submit(module=module, actor=Actor(user=tenant.manager))
    with pytest.raises(services.NotAllowed, match="reviewer or manager"):
        services.module_approve(module=module, actor=Actor(user=other_tenant.reviewer))


def test_an_api_key_cannot_approve(tenant):
    module = draft_module(tenant)
    services.module_submit(module=module, actor=Actor(user=tenant.manager))
    with pytest.raises(services.NotAllowed, match="signed-in reviewer"):
        services.module_approve(module=module, actor=Actor(api_key=tenant.api_key))


def test_review_goes_draft_review_approved_published_with_an_audit_row_each(tenant):
    module = published_module(tenant)
    assert module.state == ReviewState.PUBLISHED
    actions = list(AuditEvent.objects.filter(object_id=str(module.pk),
                                             action__startswith="learning.module.")
                   .order_by("pk").values_list("action", flat=True))
    assert actions[-3:] == ["learning.module.submit", "learning.module.approve",
                            "learning.module.publish"]


def test_a_second_approval_is_a_conflict_naming_the_state(tenant):
    module = published_module(tenant)
    with pytest.raises(Conflict) as raised:
        services.module_approve(module=module, actor=Actor(user=tenant.reviewer))
    assert raised.value.details["current_state"] == ReviewState.PUBLISHED


def test_editing_a_module_in_review_returns_it_to_draft(tenant):
    module = draft_module(tenant)
    services.module_submit(module=module, actor=Actor(user=tenant.manager))
    services.lesson_put(module=module, actor=Actor(user=tenant.manager), position=1,
                        language="en", title="Changed", body="Changed.")
    module.refresh_from_db()
    assert module.state == ReviewState.DRAFT


def test_a_published_module_must_be_revised_before_it_is_edited(tenant):
    module = published_module(tenant)
    with pytest.raises(Conflict, match="revise"):
        services.lesson_put(module=module, actor=Actor(user=tenant.manager), position=1,
                            language="en", title="Changed", body="Changed.")
    services.module_revise(module=module, actor=Actor(user=tenant.manager))
    assert module.state == ReviewState.DRAFT


def test_content_changed_behind_the_services_back_cannot_be_approved(tenant):
    module = draft_module(tenant)
    services.module_submit(module=module, actor=Actor(user=tenant.manager))
    module.lessons.first().texts.update(body="Edited directly in the database.")
    with pytest.raises(Conflict, match="changed after it was submitted"):
        services.module_approve(module=module, actor=Actor(user=tenant.reviewer))


def test_a_module_without_a_lesson_in_its_language_cannot_be_submitted(tenant):
    module = draft_module(tenant, lessons=0)
    with pytest.raises(InvalidInput) as raised:
        services.module_submit(module=module, actor=Actor(user=tenant.manager))
    assert raised.value.field == "lessons"


def test_bad_questions_are_refused_naming_the_field(tenant):
    module = draft_module(tenant, questions=0)
    with pytest.raises(InvalidInput) as raised:
        services.question_put(module=module, actor=Actor(user=tenant.manager), position=1,
                              prompt="?", choices=["only one"], correct_choice=0)
    assert raised.value.field == "choices"
    with pytest.raises(InvalidInput) as raised:
        services.question_put(module=module, actor=Actor(user=tenant.manager), position=1,
                              prompt="?", choices=["a", "b"], correct_choice=2)
    assert raised.value.field == "correct_choice"


def test_publishing_signposts_the_module_as_a_confirmed_resource_hosted_here(tenant, settings):
    module = published_module(tenant)
    resource = module.help_resource
    assert resource.url == settings.PUBLIC_BASE_URL + f"/learn/m/{tenant.organisation.slug}/" \
                                                      "recognising-concerns/"
    found = help_resources_for(organisation=tenant.organisation, country="GB", language="en",
                               audience="professional")
    assert resource.pk in [signpost.pk for signpost in found]


def test_revising_a_published_module_stops_signposting_it(tenant):
    module = published_module(tenant)
    services.module_revise(module=module, actor=Actor(user=tenant.manager))
    found = help_resources_for(organisation=tenant.organisation, country="GB", language="en",
                               audience="professional")
    assert module.help_resource.pk not in [signpost.pk for signpost in found]


def test_republishing_reuses_the_same_directory_entry(tenant):
    module = published_module(tenant)
    first = module.help_resource_id
    services.module_revise(module=module, actor=Actor(user=tenant.manager))
    publish(tenant, module)
    module.refresh_from_db()
    assert module.help_resource_id == first


def test_unsafe_markdown_is_sanitised():
    html = markdown_html("<script>alert(1)</script>\n\n[x](javascript:alert(1)) "
                         "<img src=x onerror=alert(1)> [ok](https://example.org/)")
    assert "<script" not in html and "<img" not in html
    assert 'href="javascript' not in html
    assert '<a href="https://example.org/" rel="noopener noreferrer nofollow">ok</a>' in html


def test_lesson_headings_start_below_the_page_title():
    assert markdown_html("# Title").startswith("<h2>Title</h2>")


def test_lessons_follow_the_one_fallback_chain(tenant):
    module = draft_module(tenant, lessons=2, default_language="en", languages=["de", "en"])
    services.lesson_put(module=module, actor=Actor(user=tenant.manager), position=1,
                        language="de", title="Lektion 1", body="Hilfe.")
    views = lessons_for(module, language="de-AT")
    assert [v.text.language for v in views] == ["de", "en"]  # lesson 2 falls back to English
    assert [v.text.language for v in lessons_for(module, language="fr")] == ["de", "en"]
