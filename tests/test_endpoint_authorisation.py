"""Every API operation in the schema refuses anonymous callers, revoked keys and missing scopes.

Operations that are public by design (signed webhooks, opt-out) declare optional security in the
schema and are tested by their own app. Cross-organisation 404s are tested per app, with objects.
"""

from __future__ import annotations

import re

import pytest
from rest_framework.test import APIClient

from organisations.services import Actor, api_key_revoke
from outreach.wsgi import application  # noqa: F401 - loads the URLconf like production

pytestmark = pytest.mark.django_db

PLACEHOLDERS = {"integer": "999999", "uuid": "00000000-0000-0000-0000-000000000000"}


def placeholder_path(path: str, operation: dict) -> str:
    """Fill path parameters with values of the right type that name no object."""
    for parameter in operation.get("parameters", []):
        if parameter.get("in") != "path":
            continue
        schema = parameter.get("schema", {})
        kind = "uuid" if schema.get("format") == "uuid" else schema.get("type", "string")
        value = PLACEHOLDERS.get(kind, "no-such-object")
        path = path.replace("{" + parameter["name"] + "}", value)
    return re.sub(r"\{[^}]+\}", "no-such-object", path)


def protected_operations() -> list[tuple[str, str]]:
    from drf_spectacular.generators import SchemaGenerator

    schema = SchemaGenerator().get_schema(request=None, public=True)
    operations = []
    for path, methods in schema["paths"].items():
        for method, operation in methods.items():
            # No security (or optional security) means public by design, e.g. a provider's
            # signed webhook: those are tested by their own app.
            security = operation.get("security", [])
            if not security or {} in security:
                continue
            operations.append((method.upper(), placeholder_path(path, operation)))
    return sorted(operations)


OPERATIONS = protected_operations()


def call(client: APIClient, method: str, path: str):  # type: ignore[no-untyped-def]
    return client.generic(method, path, data="{}", content_type="application/json")


@pytest.mark.parametrize(("method", "path"), OPERATIONS)
def test_anonymous_callers_get_401(method, path):
    assert call(APIClient(), method, path).status_code == 401


@pytest.mark.parametrize(("method", "path"), OPERATIONS)
def test_a_revoked_key_gets_401(method, path, tenant):
    api_key_revoke(api_key=tenant.api_key, actor=Actor.system())
    assert call(tenant.client(), method, path).status_code == 401


@pytest.mark.parametrize(("method", "path"), OPERATIONS)
def test_a_key_without_scopes_gets_403_unless_the_operation_needs_none(method, path, tenant):
    response = call(tenant.client(tenant.key_with()), method, path)
    if path.rstrip("/").endswith("whoami"):
        assert response.status_code == 200
    else:
        assert response.status_code == 403, response.content


def test_the_schema_lists_operations():
    assert ("GET", "/api/v1/whoami") in OPERATIONS
