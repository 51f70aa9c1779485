"""'Email me a new link': a learner who lost their resume link gets a new one by email, with
no account enumeration (the same answer for an unknown address), rate limits per source and
per address, and the address itself never on the broker."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse

from learning import learners, resume
from learning.models import Learner
from learning.selectors import learner_by_token
from tests.conftest import make_tenant
from tests.learning.factories import published_module

pytestmark = pytest.mark.django_db

ADDRESS = "Teacher@Example.org"


@pytest.fixture
def queued(monkeypatch) -> list[tuple]:
    """The task runs in-process; what was put on the broker is kept."""
    sent: list[tuple] = []

    def delay(*args: object) -> None:
        sent.append(args)
        module_id, index, request_id = args
        resume.new_links_send(module_id=module_id, index=index, request_id=request_id)

    monkeypatch.setattr("learning.tasks.new_links_send.delay", delay)
    return sent


def page(module) -> str:  # type: ignore[no-untyped-def]
    return reverse("learning:new_link", args=[module.organisation.slug, module.slug])


def ask(client, module, email: str, callbacks, **extra):  # type: ignore[no-untyped-def]
    with callbacks(execute=True):
        return client.post(page(module), {"email": email}, **extra)


def test_a_learner_who_lost_their_link_gets_a_new_one_and_the_old_one_stops_working(
        tenant, client, queued, mailoutbox, django_capture_on_commit_callbacks):
    module = published_module(tenant)
    learner, old_token = learners.learner_enrol(module=module, email="teacher@example.org")
    assert b'id="lost-link"' in client.get(reverse(
        "learning:module", args=[tenant.organisation.slug, module.slug])).content

    answer = ask(client, module, ADDRESS, django_capture_on_commit_callbacks)

    assert answer.status_code == 200 and b'id="new-link-sent"' in answer.content
    assert [m.to for m in mailoutbox] == [["teacher@example.org"]]
    token = re.search(r"/learn/r/([^/\s]+)/", mailoutbox[0].body).group(1)
    assert learner_by_token(token) == learner and learner_by_token(old_token) is None
    assert client.get(reverse("learning:home", args=[token])).status_code == 200
    gone = client.get(reverse("learning:home", args=[old_token]))
    assert gone.status_code == 404 and b"Get a new one by email" in gone.content
    assert all("example.org" not in str(arg).lower() for args in queued for arg in args)


def test_an_unknown_address_gets_the_same_answer_and_nothing_is_sent(
        tenant, client, queued, mailoutbox, django_capture_on_commit_callbacks):
    module = published_module(tenant)
    learners.learner_enrol(module=module, email="teacher@example.org")
    known = ask(client, module, "teacher@example.org", django_capture_on_commit_callbacks)
    mailoutbox.clear()
    unknown = ask(client, module, "nobody@example.org", django_capture_on_commit_callbacks)
    assert (unknown.status_code, unknown.content) == (known.status_code, known.content)
    assert mailoutbox == []
    assert len(queued) == 2  # the same work for both: one queued task each


def test_a_learner_of_another_module_or_organisation_is_not_found_through_this_module(
        tenant, client, queued, mailoutbox, django_capture_on_commit_callbacks):
    module = published_module(tenant)
    other = published_module(make_tenant("Prevention Programme B"))
    learners.learner_enrol(module=other, email="teacher@example.org")
    answer = ask(client, module, "teacher@example.org", django_capture_on_commit_callbacks)
    assert answer.status_code == 200 and mailoutbox == []


def test_a_shredded_email_gets_no_link(tenant, client, queued, mailoutbox,
                                       django_capture_on_commit_callbacks):
    module = published_module(tenant)
    learner, _ = learners.learner_enrol(module=module, email="teacher@example.org")
    Learner.objects.filter(pk=learner.pk).update(email_sealed="", data_key="")
    ask(client, module, "teacher@example.org", django_capture_on_commit_callbacks)
    assert mailoutbox == []


def test_requests_are_limited_per_address_whoever_asks(
        tenant, client, queued, mailoutbox, django_capture_on_commit_callbacks, settings):
    settings.LEARNING_NEW_LINKS_PER_ADDRESS_PER_HOUR = 2
    module = published_module(tenant)
    codes = [ask(client, module, "someone@example.org", django_capture_on_commit_callbacks,
                 REMOTE_ADDR=f"192.0.2.{n}").status_code for n in range(3)]
    assert codes == [200, 200, 429]
    assert len(queued) == 2


def test_requests_are_limited_per_source(tenant, client, queued,
                                         django_capture_on_commit_callbacks, settings):
    settings.LEARNING_NEW_LINKS_PER_SOURCE_PER_HOUR = 3
    module = published_module(tenant)
    codes = [ask(client, module, f"person{n}@example.org",
                 django_capture_on_commit_callbacks).status_code for n in range(4)]
    assert codes == [200, 200, 200, 429]
    limited = ask(client, module, "person9@example.org", django_capture_on_commit_callbacks)
    assert b"wait an hour" in limited.content


@pytest.mark.parametrize("email", ["", "not-an-address", "x" * 300 + "@example.org"])
def test_a_bad_address_is_a_400_naming_the_problem(tenant, client, queued, email,
                                                  django_capture_on_commit_callbacks):
    module = published_module(tenant)
    answer = ask(client, module, email, django_capture_on_commit_callbacks)
    assert answer.status_code == 400 and b'id="form-error"' in answer.content
    assert queued == []


def test_a_redelivered_task_sends_once(tenant, mailoutbox, django_capture_on_commit_callbacks):
    module = published_module(tenant)
    learners.learner_enrol(module=module, email="teacher@example.org")
    index = resume.email_index("teacher@example.org", module_id=module.pk)
    with django_capture_on_commit_callbacks(execute=True):
        first = resume.new_links_send(module_id=module.pk, index=index, request_id="r1")
        again = resume.new_links_send(module_id=module.pk, index=index, request_id="r1")
    assert (first, again) == (1, 0) and len(mailoutbox) == 1


def test_the_form_page_and_an_unpublished_module(tenant, client):
    module = published_module(tenant)
    form = client.get(page(module))
    assert form.status_code == 200 and b'id="send-link"' in form.content
    assert form["X-Robots-Tag"] == "noindex, nofollow"
    missing = reverse("learning:new_link", args=[tenant.organisation.slug, "no-such-module"])
    assert client.get(missing).status_code == 404
