"""Public pages: the module page, enrolment, lessons, the checks, the certificate and the
mentoring form; bad input is a 400 naming the problem, bad addresses a 404, never a 500."""

from __future__ import annotations

import re

import pytest

from evaluation.models import Outcome
from learning.models import Learner, MentoringRequest
from tests.learning.factories import invitation, published_module
from tests.learning.test_learners import right_answers

pytestmark = pytest.mark.django_db


def module_path(module) -> str:  # type: ignore[no-untyped-def]
    return f"/learn/m/{module.organisation.slug}/{module.slug}/"


def enrol(client, module, **data) -> str:  # type: ignore[no-untyped-def]
    response = client.post(module_path(module), data)
    assert response.status_code == 302, response.content[:500]
    return response["Location"]


def test_the_module_page_is_accessible_markup(client, tenant):
    module = published_module(tenant)
    response = client.get(module_path(module))
    html = response.content.decode()
    assert response.status_code == 200
    assert '<html lang="en">' in html and 'name="viewport"' in html
    assert '<main id="content"' in html and 'href="#content"' in html
    assert '<label for="email">' in html and 'id="email"' in html
    assert response["Referrer-Policy"] == "same-origin"


def test_a_draft_module_is_not_public(client, tenant):
    from tests.learning.factories import draft_module

    module = draft_module(tenant)
    assert client.get(module_path(module)).status_code == 404


def test_a_tampered_invitation_is_a_404_that_still_lists_the_modules_page(client, tenant):
    module = published_module(tenant)
    _, via = invitation(tenant, module)
    response = client.get(module_path(module), {"via": via[:-3] + "abc"})
    html = response.content.decode()
    assert response.status_code == 404
    assert f'href="{module_path(module)}"' in html
    assert client.post(module_path(module), {"via": "garbage"}).status_code == 404
    assert not Learner.objects.exists()


def test_a_learner_goes_from_the_invitation_to_the_certificate(client, tenant):
    module = published_module(tenant)
    exposure, via = invitation(tenant, module)
    assert client.get(module_path(module), {"via": via}).status_code == 200
    home = enrol(client, module, via=via)
    token = re.search(r"/learn/r/([^/]+)/", home).group(1)
    assert client.get(home).status_code == 200
    assert client.post(f"{home}check/pre/", right_answers(module, wrong=True)).status_code == 302
    lesson = client.get(f"{home}lesson/1/")
    assert lesson.status_code == 200 and b"<h3>Part 1</h3>" in lesson.content
    assert client.post(f"{home}lesson/1/")["Location"].endswith("/lesson/2/")
    assert client.post(f"{home}lesson/2/")["Location"] == home
    assert client.post(f"{home}check/post/", right_answers(module)).status_code == 302
    page = client.get(f"{home}certificate/")
    assert page.status_code == 200 and b"Ask for follow-up support" in page.content
    pdf = client.post(f"{home}certificate/", {"name": "Alex Example"})
    assert pdf.status_code == 200 and pdf["Content-Type"] == "application/pdf"
    assert pdf.content.startswith(b"%PDF")
    kinds = sorted(Outcome.objects.filter(exposure=exposure).values_list("kind", flat=True))
    assert kinds == ["module_completed", "module_enrolled"]
    assert token not in str(list(Learner.objects.values()))


def test_the_certificate_needs_a_name_and_never_stores_it(client, tenant):
    module = published_module(tenant, questions=0)
    home = enrol(client, module)
    for position in (1, 2):
        client.post(f"{home}lesson/{position}/")
    assert client.post(f"{home}certificate/", {"name": ""}).status_code == 400
    assert client.post(f"{home}certificate/", {"name": "x" * 500}).status_code == 400
    assert client.post(f"{home}certificate/", {"name": "Sam Unique-Name"}).status_code == 200
    assert "Unique-Name" not in str(list(Learner.objects.values()))


def test_the_certificate_is_not_offered_before_completion(client, tenant):
    module = published_module(tenant)
    home = enrol(client, module)
    assert client.post(f"{home}certificate/", {"name": "A"})["Location"] == home


def test_an_oversized_answer_is_a_400_naming_the_question(client, tenant):
    module = published_module(tenant)
    home = enrol(client, module)
    answers = right_answers(module)
    first = module.questions.order_by("position").first()
    answers[f"q{first.pk}"] = "1" * 10_000
    response = client.post(f"{home}check/pre/", answers)
    assert response.status_code == 400
    assert b"The answer to question 1 is too long" in response.content


def test_a_bad_email_is_a_400_on_the_module_page(client, tenant):
    module = published_module(tenant)
    response = client.post(module_path(module), {"email": "nope"})
    assert response.status_code == 400 and b"valid email address" in response.content


def test_unknown_tokens_lessons_and_phases_are_404s(client, tenant):
    module = published_module(tenant)
    home = enrol(client, module)
    assert client.get("/learn/r/not-a-token/").status_code == 404
    assert client.get("/learn/r/" + "x" * 500 + "/").status_code == 404
    assert client.get(f"{home}lesson/99/").status_code == 404
    assert client.get(f"{home}check/middle/").status_code == 404
    assert client.get("/learn/m/nobody/nothing/").status_code == 404


def test_a_mentoring_request_from_the_last_page(client, tenant):
    module = published_module(tenant, questions=0)
    home = enrol(client, module)
    assert client.post(f"{home}mentoring/", {"contact": ""}).status_code == 400
    response = client.post(f"{home}mentoring/", {"contact": "lead@example.org",
                                                 "message": "Staff briefing, please."})
    assert response.status_code == 302 and "mentoring=sent" in response["Location"]
    request = MentoringRequest.objects.get()
    assert "lead@example.org" not in request.contact_sealed


def test_unsafe_markdown_in_a_lesson_is_sanitised_on_the_page(client, tenant):
    from learning.models import LessonText

    module = published_module(tenant)
    LessonText.objects.filter(lesson__module=module, lesson__position=1).update(
        body="<script>alert(1)</script> [x](javascript:alert(1))")
    home = enrol(client, module)
    html = client.get(f"{home}lesson/1/").content.decode()
    assert "<script>alert" not in html and 'href="javascript' not in html
