"""Fuzz every operation in the OpenAPI schema: no 5xx, and every answer matches the schema.

New endpoints are covered automatically as soon as they appear in /api/schema/.
"""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance

from outreach.wsgi import application

pytestmark = pytest.mark.django_db


@pytest.fixture
def auth_headers(tenant) -> dict[str, str]:
    return {"Authorization": f"Bearer {tenant.secret}"}


# Loading the schema needs no database: it is generated from the code.
schema = schemathesis.openapi.from_wsgi("/api/schema/", application)


@schema.parametrize()
@settings(max_examples=15, deadline=None,
          suppress_health_check=list(HealthCheck))
def test_no_operation_answers_5xx_or_breaks_its_schema(case, auth_headers):
    case.call_and_validate(headers=auth_headers,
                           checks=[not_a_server_error, response_schema_conformance])


def test_the_schema_and_docs_are_served_without_a_cdn(client):
    schema_response = client.get("/api/schema/")
    assert schema_response.status_code == 200
    docs = client.get("/api/docs/")
    assert docs.status_code == 200
    html = docs.content.decode()
    assert "cdn.jsdelivr" not in html and "unpkg.com" not in html
    assert "/static/drf_spectacular_sidecar/" in html
