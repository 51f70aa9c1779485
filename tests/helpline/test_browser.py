"""Done-when: a person arriving by a signed help link and a counsellor in the console have a
whole conversation in real time through a live ASGI server (uvicorn, channels-redis): queue,
claim, messages both ways, transfer, end with a contact record; and the conversation is an
attributed helpline_contact in the campaign's report.

Needs Debian's chromium; skipped on a bare machine without it, failed in CI (CI=true).
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator

import pytest
from django.test import Client

from core.disclosure import DisclosurePolicy
from evaluation.models import Exposure, Outcome
from helpline.models import ContactRecord, Conversation
from tests.helpline.factories import helpline_world
from tests.interventions.test_browser import CHROMIUM_ARGS, NO_NETWORK_BUT_LOOPBACK, chromium_path

pytestmark = [pytest.mark.browser, pytest.mark.usefixtures("postgres", "redis_url"),
              pytest.mark.django_db(transaction=True)]
__all__ = ["chromium_path"]  # the fixture, re-used

TIMEOUT_MS = 15_000


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def asgi_server(settings) -> Iterator[str]:  # type: ignore[no-untyped-def]
    """outreach.asgi (HTTP to Django, /ws/ to the consumers) under uvicorn in a thread."""
    import uvicorn

    from outreach.asgi import application

    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    settings.PUBLIC_BASE_URL = url
    server = uvicorn.Server(uvicorn.Config(application, host="127.0.0.1", port=port,
                                           log_level="warning", lifespan="off",
                                           ws="websockets-sansio"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    assert server.started, "uvicorn did not start"
    yield url
    server.should_exit = True
    thread.join(timeout=10)
    _close_server_connections()


def _close_server_connections() -> None:
    """The server's worker threads keep their database connections (CONN_MAX_AGE): end them,
    or the test database cannot be dropped at the end of the run."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                       "WHERE datname = current_database() AND pid <> pg_backend_pid() "
                       "AND application_name = ''")


def _session_cookie(user, url: str) -> dict:  # type: ignore[no-untyped-def]
    client = Client()
    client.force_login(user)
    return {"name": "sessionid", "value": client.cookies["sessionid"].value, "url": url}


def test_a_whole_conversation_in_real_time_is_an_attributed_helpline_contact(
        chromium_path, asgi_server, monkeypatch):
    from playwright.sync_api import expect, sync_playwright

    w = helpline_world(base_url=asgi_server, online=False)
    answer = w.world.client().post("/api/v1/interventions", {
        "trigger": "search_blocked_term", "country": "GB", "language": "en",
        "session_id": "person-1"}, format="json").json()
    help_link = next(r["url"] for r in answer["help_resources"]
                     if r["name"] == "Anonymous chat (hosted here)")
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")  # the ORM around Playwright's loop
    sockets: list[str] = []

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium_path,
                                    args=[*CHROMIUM_ARGS, NO_NETWORK_BUT_LOOPBACK])
        staff = browser.new_context()
        staff.add_cookies([_session_cookie(w.counsellor.user, asgi_server)])
        console = staff.new_page()
        console.set_default_timeout(TIMEOUT_MS)
        console.on("websocket", lambda ws: sockets.append(ws.url))
        console.goto(asgi_server + "/help/console/")
        console.click("#presence")
        expect(console.locator("#presence")).to_have_text("Go offline")

        person_context = browser.new_context()
        person = person_context.new_page()
        person.set_default_timeout(TIMEOUT_MS)
        person.on("websocket", lambda ws: sockets.append(ws.url))
        person.goto(help_link)
        assert "/help/chat/test-chat/?via=" in person.url
        expect(person.locator("#referral_code")).to_have_value(w.world.campaign.referral_code)
        person.check("input[name=caller_type][value=own_thoughts]")
        person.click("#start")
        expect(person.locator("#queue")).to_contain_text("number 1 in the queue")
        resume_code = person.locator("#resume-code").inner_text()
        assert len(resume_code.split()) == 5

        expect(console.locator("#queue")).to_contain_text("Worried about own thoughts")
        console.click("#claim-next")
        expect(person.locator("#queue")).to_contain_text("You are talking to Sam")

        person.fill("#text", "<b>Hello</b>, I need to talk to someone.")
        person.click("#compose button[type=submit]")
        expect(console.locator("#messages")).to_contain_text(
            "<b>Hello</b>, I need to talk to someone.")  # shown as text, not markup
        console.fill("#text", "I am glad you reached out. I am here to listen.")
        console.click("#compose button[type=submit]")
        expect(person.locator("#messages")).to_contain_text("I am here to listen.")

        console.select_option("#transfer-to", str(w.colleague.pk))
        console.click("#transfer")
        expect(person.locator("#messages")).to_contain_text("Alex has taken over the chat.")

        colleague_context = browser.new_context()
        colleague_context.add_cookies([_session_cookie(w.colleague.user, asgi_server)])
        colleague = colleague_context.new_page()
        colleague.set_default_timeout(TIMEOUT_MS)
        colleague.goto(asgi_server + "/help/console/")
        colleague.locator("#mine button", has_text="Open").click()
        expect(colleague.locator("#messages")).to_contain_text("I need to talk to someone")
        colleague.fill("#text", "Hi, this is Alex. Would a referral help?")
        colleague.click("#compose button[type=submit]")
        expect(person.locator("#messages")).to_contain_text("this is Alex")
        person.fill("#text", "Yes please.")
        person.click("#compose button[type=submit]")
        expect(colleague.locator("#messages")).to_contain_text("Yes please.")

        colleague.select_option("#end-caller", "own_thoughts")
        colleague.check("input[name=concerns][value=own_thoughts]")
        colleague.check("input[name=offered][value=referral]")
        colleague.fill("#end-note", "Referred to the local service.")
        colleague.click("#end-button")
        expect(colleague.locator("#end-status")).to_have_text("Chat ended; contact record saved.")
        expect(person.locator("#queue")).to_contain_text("This chat has ended")
        browser.close()

    assert any(url.endswith("/ws/helpline/chat/") for url in sockets)
    assert any(url.endswith("/ws/helpline/console/") for url in sockets)
    conversation = Conversation.objects.get()
    assert (conversation.state, conversation.counsellor, conversation.caller_type) == (
        "ended", w.colleague, "own_thoughts")
    record = ContactRecord.objects.get()
    assert (record.concerns, record.offered) == (["own_thoughts"], ["referral"])
    exposure = Exposure.objects.get(pk=answer["intervention_id"])
    contact = Outcome.objects.get(kind="helpline_contact")
    assert (contact.exposure, contact.campaign) == (exposure, w.world.campaign)

    from evaluation.reports import campaign_report
    from evaluation.rollup import rollup_pending

    rollup_pending()
    report = campaign_report(campaign=w.world.campaign, with_population=False,
                             policy=DisclosurePolicy(threshold=1, rounding_base=1))
    assert report.totals.outcomes["helpline_contact"].value == 1
