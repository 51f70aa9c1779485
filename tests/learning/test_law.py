"""The law explained: generated from the directory, kept in step with it."""

from __future__ import annotations

import pytest
from django.utils import timezone

from core.errors import InvalidInput
from directory.models import LegalNotice, Statute
from learning import law
from learning.models import ModuleKind, ReviewState
from learning.selectors import modules_needing_review
from organisations.services import Actor
from tests.directory.factories import HelpResourceFactory
from tests.learning.factories import publish

pytestmark = pytest.mark.django_db


@pytest.fixture
def notice(tenant):
    notice = LegalNotice.objects.create(
        organisation=tenant.organisation, jurisdiction="GB-ENG", also_applies_to=["GB-WLS"],
        confidentiality_note="Professionals may have a duty to share safeguarding concerns.")
    Statute.objects.create(notice=notice, position=1, name="Protection of Children Act 1978",
                           section="s.1(1)", offence_summary="Makes it a crime to make or "
                           "share indecent images of anyone under 18.",
                           max_penalty="10 years' imprisonment.")
    HelpResourceFactory(organisation=tenant.organisation, name="Stop It Now",
                        audiences=["professional", "at_risk_self"], countries=["GB"],
                        confirmed_at=timezone.now())
    return notice


def generate(tenant):
    return law.law_module_generate(organisation=tenant.organisation, jurisdiction="GB-ENG",
                                   actor=Actor(user=tenant.manager), audience="teacher")


def test_a_law_module_is_generated_from_the_notice_its_statutes_and_the_help(tenant, notice):
    module = generate(tenant)
    assert (module.kind, module.state, module.jurisdiction) == (
        ModuleKind.LAW_EXPLAINED, ReviewState.DRAFT, "GB-ENG")
    bodies = {t.title: t.body for lesson in module.lessons.all() for t in lesson.texts.all()}
    assert list(bodies) == ["What the law says is illegal", "Penalties",
                            "Reporting duties and confidentiality", "Where to get help"]
    assert "Protection of Children Act 1978" in bodies["What the law says is illegal"]
    assert "10 years" in bodies["Penalties"]
    assert "duty to share safeguarding" in bodies["Reporting duties and confidentiality"]
    assert "Stop It Now" in bodies["Where to get help"]
    assert module.questions.count() == 3
    assert len(module.sources_hash) == 64


def test_directory_text_is_escaped_in_the_generated_markdown(tenant, notice):
    Statute.objects.filter(notice=notice).update(name="Act <script>x</script> [link](javascript:x)")
    module = generate(tenant)
    from learning.markdown import markdown_html

    html = markdown_html(module.lessons.get(position=1).texts.get().body)
    assert "<script" not in html and "<a " not in html


def test_a_jurisdiction_without_a_legal_notice_is_refused(tenant):
    with pytest.raises(InvalidInput) as raised:
        law.law_module_generate(organisation=tenant.organisation, jurisdiction="FR",
                                actor=Actor(user=tenant.manager))
    assert raised.value.field == "jurisdiction"


def test_a_changed_legal_notice_marks_the_published_module_for_re_review(tenant, notice):
    module = publish(tenant, generate(tenant))
    assert law.law_modules_check() == []  # nothing changed yet
    Statute.objects.filter(notice=notice).update(max_penalty="14 years' imprisonment.")
    marked = law.law_modules_check()
    assert [m.pk for m in marked] == [module.pk]
    assert list(modules_needing_review(organisation=tenant.organisation)) == [module]
    assert law.law_modules_check() == []  # marked once


def test_a_changed_confidentiality_note_is_a_change_of_sources(tenant, notice):
    module = publish(tenant, generate(tenant))
    LegalNotice.objects.filter(pk=notice.pk).update(confidentiality_note="Changed.")
    assert law.law_module_sources_changed(module)


def test_its_own_directory_entry_does_not_count_as_a_source(tenant, notice):
    module = publish(tenant, generate(tenant))  # publishing adds a hosted help resource
    assert not law.law_module_sources_changed(module)


def test_regenerating_clears_the_flag_and_returns_the_module_to_review(tenant, notice):
    module = publish(tenant, generate(tenant))
    Statute.objects.filter(notice=notice).update(max_penalty="14 years' imprisonment.")
    law.law_modules_check()
    module = law.law_module_generate(organisation=tenant.organisation, jurisdiction="GB-ENG",
                                     actor=Actor(user=tenant.manager), audience="teacher",
                                     module=module)
    assert module.state == ReviewState.DRAFT and module.review_requested_at is None
    assert "14 years" in module.lessons.get(position=2).texts.get().body
    assert not law.law_module_sources_changed(module)


def test_another_organisations_changes_are_not_flagged_for_us(tenant, other_tenant, notice):
    publish(tenant, generate(tenant))
    Statute.objects.filter(notice=notice).update(max_penalty="14 years' imprisonment.")
    assert law.law_modules_check(organisation=other_tenant.organisation) == []
