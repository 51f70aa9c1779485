"""Exception reports and access logs carry no identifier, contact detail, token or body.

A 500 is provoked with a database error that quotes the row (what PostgreSQL does), the log
lines and Django's error report (DEBUG page, admin e-mail) are captured, and every secret the
request carried is looked for in them.
"""

from __future__ import annotations

import contextlib
import io
import logging
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.conf import settings as django_settings
from django.core import mail
from django.db import connection
from django.test import RequestFactory
from django.views.debug import get_exception_reporter_class

from core.logging import (
    AccessLogFilter,
    RedactIdentifiersFilter,
    redact,
    redact_path,
    safe_exception_text,
)
from segments import recipients

SECRETS = {
    "reference": "PERSON-REF-93817",
    "email": "someone.private@example.org",
    "phone": "+44 7700 900461",
    "attribute": "attr-value-55120",
    "query": "resume-code-sentinel",
    "cookie": "cookie-sentinel-4471",
    "token": "tok3n-sentinel-a1b2c3",
}
BODY = {"reference": SECRETS["reference"], "stage": "at_risk", "country": "GB",
        "language": "en", "contacts": [{"channel": "email", "value": SECRETS["email"]}],
        "attributes": {"note": SECRETS["attribute"]}}


def leaked(text: str) -> list[str]:
    return [name for name, value in SECRETS.items() if value in text]


@contextlib.contextmanager
def console_output():
    """What the project's console handler (the one with the redaction filter) writes."""
    handlers = [h for h in logging.getLogger().handlers
                if any(isinstance(f, RedactIdentifiersFilter) for f in h.filters)]
    assert handlers, "settings.LOGGING's console handler is not installed"
    stream = io.StringIO()
    old = [h.setStream(stream) for h in handlers]  # type: ignore[attr-defined]
    try:
        yield stream
    finally:
        for handler, previous in zip(handlers, old, strict=True):
            handler.setStream(previous)  # type: ignore[attr-defined]


def _database_error_quoting_the_row(**kwargs):  # type: ignore[no-untyped-def]
    """Stands in for an upsert bug: PostgreSQL refuses a value and quotes it back."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT %s::int", [f"{SECRETS['reference']} {SECRETS['email']}"])


@pytest.fixture
def failing_upsert(monkeypatch, postgres):  # type: ignore[no-untyped-def]
    monkeypatch.setattr(recipients, "recipient_upsert", _database_error_quoting_the_row)


def _post_500(tenant):  # type: ignore[no-untyped-def]
    client = tenant.client()
    client.raise_request_exception = False
    client.cookies["sessionid"] = SECRETS["cookie"]
    response = client.post(f"/api/v1/recipients?code={SECRETS['query']}", BODY, format="json")
    assert response.status_code == 500
    return response


def test_a_500_on_recipient_upsert_logs_no_value_of_the_request(tenant, failing_upsert):
    with console_output() as output:
        _post_500(tenant)
    text = output.getvalue()
    assert "Internal Server Error: /api/v1/recipients" in text
    assert "Traceback (most recent call last)" in text and "DataError" in text
    assert "withheld" in text
    assert leaked(text) == []


def test_the_admin_email_of_a_500_carries_no_value_of_the_request(tenant, failing_upsert,
                                                                   settings):
    settings.ADMINS = [("Ops", "ops@example.net")]
    settings.DEBUG = False
    mail.outbox.clear()
    _post_500(tenant)
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    text = message.subject + message.body + "".join(
        str(content) for content, _ in getattr(message, "alternatives", []))
    assert "DataError" in text
    assert leaked(text) == [], text[:3000]


def test_django_error_report_shows_no_request_data_even_with_debug(settings):
    settings.DEBUG = True
    request = RequestFactory().post(
        f"/go/{SECRETS['token']}?r={SECRETS['query']}", {"phone": SECRETS["phone"]},
        HTTP_COOKIE=f"sessionid={SECRETS['cookie']}",
        HTTP_AUTHORIZATION=f"Bearer {SECRETS['token']}", HTTP_REFERER=SECRETS["query"])
    reference = SECRETS["reference"]  # a frame variable
    try:
        try:
            raise ValueError(f"invalid literal for int() with base 10: '{reference}'")
        except ValueError as inner:
            raise KeyError(SECRETS["email"]) from inner
    except KeyError:
        reporter = get_exception_reporter_class(request)(request, *sys.exc_info())
        html, text = reporter.get_traceback_html(), reporter.get_traceback_text()
    assert "KeyError" in text and "ValueError" in html
    assert leaked(html) == [] and leaked(text) == []
    assert "/go/&lt;token&gt;" in html or "/go/<token>" in html


def test_a_logged_traceback_keeps_frames_and_types_but_no_quoted_values():
    try:
        int(SECRETS["reference"])
    except ValueError:
        text = safe_exception_text(sys.exc_info())  # type: ignore[arg-type]
    assert "test_redaction.py" in text and "int(SECRETS" in text  # frame and source line
    assert "ValueError: invalid literal for int() with base 10: <…>" in text
    assert leaked(text) == []


@pytest.mark.parametrize(("text", "expected"), [
    (f"Not Found: /go/{SECRETS['token']}", "Not Found: /go/<token>"),
    (f"GET /learn/r/{SECRETS['token']}/lesson/2/ 200", "GET /learn/r/<token>/lesson/2/ 200"),
    (f"/opt-out/{SECRETS['token']}", "/opt-out/<token>"),
    (f"GET /help/chat/line/?via={SECRETS['query']} 200", "GET /help/chat/line/?<query> 200"),
])
def test_token_paths_and_query_strings_are_redacted_in_log_messages(text, expected):
    assert redact(text) == expected


def test_a_request_path_for_a_log_drops_the_query_and_the_token():
    assert redact_path(f"/go/{SECRETS['token']}?x={SECRETS['query']}") == "/go/<token>"
    assert redact_path("/api/v1/campaigns/12/report") == "/api/v1/campaigns/12/report"


# --- access logs -------------------------------------------------------------------------------

def test_uvicorn_access_records_lose_the_client_the_query_and_the_token():
    record = logging.LogRecord("uvicorn.access", logging.INFO, __file__, 1,
                               '%s - "%s %s HTTP/%s" %d',
                               ("203.0.113.9:5123", "GET",
                                f"/go/{SECRETS['token']}?c={SECRETS['query']}", "1.1", 302),
                               None)
    AccessLogFilter().filter(record)
    assert record.getMessage() == '- - "GET /go/<token> HTTP/1.1" 302'


def _free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.mark.slow
def test_gunicorn_access_log_has_no_client_query_token_referrer_or_agent(tmp_path):
    """A real gunicorn with its default (combined) access-log format plus every header: what
    outreach.wsgi's filter leaves in the file."""
    import http.client

    log = tmp_path / "access.log"
    port = _free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "outreach.wsgi:application", "--workers", "1",
         "--bind", f"127.0.0.1:{port}", "--access-logfile", str(log),
         "--access-logformat", '%(h)s %(u)s %(t)s "%(r)s" %(s)s %(U)s %(q)s "%(f)s" '
                               '"%(a)s" %({authorization}i)s %({cookie}i)s'],
        cwd=Path(django_settings.BASE_DIR))
    try:
        deadline, status = time.monotonic() + 30, None
        while status is None and time.monotonic() < deadline:
            assert process.poll() is None, "gunicorn exited"
            try:
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
                conn.request("GET", f"/go/{SECRETS['token']}?resume={SECRETS['query']}",
                             headers={"Referer": f"https://partner.example/?s={SECRETS['query']}",
                                      "User-Agent": SECRETS["reference"],
                                      "Authorization": f"Bearer {SECRETS['token']}",
                                      "Cookie": f"sessionid={SECRETS['cookie']}"})
                status = conn.getresponse().status
                conn.close()
            except OSError:
                time.sleep(0.2)
        assert status is not None, "gunicorn did not answer"
        deadline = time.monotonic() + 10
        while not (log.exists() and log.read_text()) and time.monotonic() < deadline:
            time.sleep(0.1)
    finally:
        process.terminate()
        process.wait(timeout=20)
    text = log.read_text()
    assert "/go/<token>" in text and f" {status} " in text
    assert leaked(text) == [] and "127.0.0.1" not in text, text
