"""A chunked request body (Transfer-Encoding, no Content-Length) is read with the same size limit
as a declared one, or refused with 411: never accepted and dropped.

Before, Django's WSGI request read such a body as empty and the NDJSON batch answered 200
`received: 0`. The behaviour depends on the server, so besides the test client it is checked
through real local servers: gunicorn (WSGI, a subprocess) and uvicorn (outreach.asgi, a thread).
"""

from __future__ import annotations

import contextlib
import http.client
import io
import json
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.conf import settings as django_settings
from django.db import connection

from evaluation.models import Outcome
from outreach.middleware import ChunkedBodyReader

BATCH = "/api/v1/outcomes/batch"
LIMIT = 4096  # MAX_REQUEST_BYTES for the over-the-limit cases


def ndjson(code: str, count: int, *, prefix: str = "k") -> bytes:
    return "".join(json.dumps({"kind": "helpline_contact", "idempotency_key": f"{prefix}{i}",
                               "referral_code": code}) + "\n" for i in range(count)).encode()


def chunked(client, body: bytes, *, terminated: bool):  # type: ignore[no-untyped-def]
    """What a WSGI server hands Django for a chunked request: the de-chunked body as a stream
    that ends with it (gunicorn says so with wsgi.input_terminated), and no Content-Length."""
    extra = {"wsgi.input": io.BytesIO(body), "wsgi.input_terminated": terminated}
    return client.generic("POST", BATCH, body, content_type="application/x-ndjson",
                          CONTENT_LENGTH="", HTTP_TRANSFER_ENCODING="chunked", **extra)


# --- the test client (WSGI) --------------------------------------------------------------------

def _through_reader(body: bytes, *, terminated: bool = True) -> dict:
    """The environ outreach.wsgi's ChunkedBodyReader hands Django for a chunked request."""
    seen: dict = {}

    def app(environ, start_response):  # type: ignore[no-untyped-def]
        seen.update(environ, body=environ["wsgi.input"].read())
        return []

    ChunkedBodyReader(app)({"wsgi.input": io.BytesIO(body), "wsgi.input_terminated": terminated,
                            "HTTP_TRANSFER_ENCODING": "chunked", "REQUEST_METHOD": "POST"},
                           lambda *args: None)
    return seen


def test_a_chunked_body_the_server_ends_is_declared_before_django_reads_it(settings):
    settings.MAX_REQUEST_BYTES = LIMIT
    seen = _through_reader(b"x" * 1000)
    assert (seen["CONTENT_LENGTH"], seen["body"]) == ("1000", b"x" * 1000)
    assert "HTTP_TRANSFER_ENCODING" not in seen


def test_a_chunked_body_over_the_limit_is_read_no_further_than_one_byte_past_it(settings):
    settings.MAX_REQUEST_BYTES = LIMIT
    seen = _through_reader(b"x" * (LIMIT * 3))
    assert seen["CONTENT_LENGTH"] == str(LIMIT + 1)  # RequestSizeLimitMiddleware: 413


def test_a_chunked_body_the_server_cannot_end_is_left_for_the_411(settings):
    seen = _through_reader(b"x" * 10, terminated=False)
    assert seen["HTTP_TRANSFER_ENCODING"] == "chunked" and "CONTENT_LENGTH" not in seen


def test_a_declared_batch_over_the_limit_is_a_413_and_nothing_is_stored(world, helpline,
                                                                        settings):
    settings.MAX_REQUEST_BYTES = LIMIT
    body = ndjson(world.campaign.referral_code, 60)
    assert len(body) > LIMIT
    response = world.client(helpline).generic("POST", BATCH, body,
                                              content_type="application/x-ndjson")
    assert response.status_code == 413
    assert Outcome.objects.count() == 0


def test_a_chunked_body_on_a_server_that_cannot_end_it_is_a_411(world, helpline):
    response = chunked(world.client(helpline), ndjson(world.campaign.referral_code, 2),
                       terminated=False)
    assert response.status_code == 411
    assert "Content-Length" in response.json()["detail"]
    assert Outcome.objects.count() == 0


def test_a_negative_content_length_is_a_400(world, helpline):
    response = world.client(helpline).generic("POST", BATCH, b"", CONTENT_LENGTH="-1",
                                              content_type="application/x-ndjson")
    assert response.status_code == 400


# --- real servers ------------------------------------------------------------------------------

def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _wait_for(port: int, alive: callable, seconds: float = 30) -> None:  # type: ignore[valid-type]
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        assert alive(), "the server exited"
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.5):
            return
        time.sleep(0.1)
    pytest.fail("the server did not start")


@contextlib.contextmanager
def gunicorn(limit: int) -> Iterator[int]:
    """outreach.wsgi under gunicorn (sync worker), on the test database, in a subprocess."""
    port = _free_port()
    db = connection.settings_dict
    env = {**os.environ, "MAX_REQUEST_BYTES": str(limit),
           "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}"}
    process = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "outreach.wsgi:application", "--workers", "1",
         "--bind", f"127.0.0.1:{port}", "--log-level", "warning"],
        cwd=Path(django_settings.BASE_DIR), env=env)
    try:
        _wait_for(port, lambda: process.poll() is None)
        yield port
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@contextlib.contextmanager
def uvicorn_server() -> Iterator[int]:
    """outreach.asgi (with its BodyLimit) under uvicorn in a thread of this process."""
    import uvicorn

    from outreach.asgi import application

    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(application, host="127.0.0.1", port=port,
                                           log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        _wait_for(port, thread.is_alive)
        yield port
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        with connection.cursor() as cursor:  # the server threads' connections (CONN_MAX_AGE)
            cursor.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                           "WHERE datname = current_database() AND pid <> pg_backend_pid() "
                           "AND application_name = ''")


def post(port: int, key: str, body: bytes, *, chunk: bool = True) -> tuple[int, dict]:
    """POST the batch with http.client: an iterable body goes out chunked (no Content-Length)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/x-ndjson"}
    try:
        if chunk:
            parts = [body[i:i + 1000] for i in range(0, len(body), 1000)]
            conn.request("POST", BATCH, body=iter(parts), headers=headers)
        else:
            conn.request("POST", BATCH, body=body, headers=headers)
        response = conn.getresponse()
        return response.status, json.loads(response.read() or b"{}")
    finally:
        conn.close()


SERVERS = {"gunicorn": gunicorn, "uvicorn": lambda limit: uvicorn_server()}


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("name", sorted(SERVERS))
def test_a_real_server_reads_a_chunked_batch_and_refuses_one_over_the_limit(
        postgres, name, settings, world, helpline):
    settings.MAX_REQUEST_BYTES = LIMIT  # uvicorn runs in this process; gunicorn gets the env
    code, key = world.campaign.referral_code, helpline
    small, large = ndjson(code, 3, prefix="s"), ndjson(code, 60, prefix="l")
    assert len(small) < LIMIT < len(large)
    with SERVERS[name](LIMIT) as port:
        status, report = post(port, key, small)
        assert (status, report.get("received"), report.get("accepted")) == (200, 3, 3)
        assert post(port, key, large)[0] == 413
        assert post(port, key, large, chunk=False)[0] == 413  # declared: the same answer
        status, report = post(port, key, small, chunk=False)
        assert (status, report.get("duplicates")) == (200, 3)
    assert Outcome.objects.count() == 3
