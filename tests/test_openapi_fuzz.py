"""Fuzz every operation in the OpenAPI schema: no 5xx, every status code is one the operation
documents, and every answer matches the schema (content type and body).

New endpoints are covered automatically as soon as they appear in /api/schema/. Bounded so the
suite stays fast: 15 examples per operation, derandomized (a fixed seed: the same cases on
every run, so a failure reproduces) and no example database.
"""

from __future__ import annotations

import json

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from outreach.wsgi import application


@schemathesis.serializer("application/x-ndjson")
def ndjson(context, value) -> bytes:  # type: ignore[no-untyped-def]
    """Lets the fuzzer send NDJSON bodies (batch outcome upload): one JSON value per line."""
    if isinstance(value, str | bytes):
        return value.encode() if isinstance(value, str) else value
    lines = value if isinstance(value, list) else [value]
    return "".join(json.dumps(line) + "\n" for line in lines).encode()


@pytest.fixture(autouse=True)
def _keep_the_test_connection():
    """Calls go through the real WSGI app, which closes "old" connections at each request's
    end; inside the test transaction that would close it (Django's test client does the same)."""
    from django.core.signals import request_finished, request_started
    from django.db import close_old_connections

    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


@pytest.fixture
def auth_headers(tenant) -> dict[str, str]:
    return {"Authorization": f"Bearer {tenant.secret}"}


CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance,
          response_schema_conformance]

# Loading the schema needs no database: it is generated from the code.
schema = schemathesis.openapi.from_wsgi("/api/schema/", application)


@schema.parametrize()
@settings(max_examples=15, deadline=None, derandomize=True, database=None,
          suppress_health_check=list(HealthCheck))
def test_no_operation_answers_5xx_or_breaks_its_schema(case, auth_headers):
    case.call_and_validate(headers=auth_headers,
                           checks=CHECKS)


def test_the_schema_and_docs_are_served_without_a_cdn(client):
    schema_response = client.get("/api/schema/")
    assert schema_response.status_code == 200
    docs = client.get("/api/docs/")
    assert docs.status_code == 200
    html = docs.content.decode()
    assert "cdn.jsdelivr" not in html and "unpkg.com" not in html
    assert "/static/drf_spectacular_sidecar/" in html
