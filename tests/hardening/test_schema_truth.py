"""The OpenAPI schema says what the server enforces (issue 16): statuses, scopes, constraints;
enum errors name the allowed values; another organisation's slug looks unknown; malformed ids
and slash variants are JSON 404s.
"""

from __future__ import annotations

import re

import pytest
from drf_spectacular.generators import SchemaGenerator

from organisations.models import Partnership

METHODS = ("get", "post", "put", "patch", "delete")


@pytest.fixture(scope="module")
def schema() -> dict:
    return SchemaGenerator().get_schema(request=None, public=True)


def operations(schema: dict):  # type: ignore[no-untyped-def]
    for path, item in schema["paths"].items():
        for method in METHODS:
            if method in item:
                yield path, method, item[method]


def test_every_operation_documents_the_statuses_the_edge_can_answer(schema):
    for path, method, operation in operations(schema):
        statuses = set(operation["responses"])
        assert "400" in statuses, (method, path)
        if "{" in path:
            assert "404" in statuses, (method, path)
        if method in ("post", "put", "patch"):
            assert {"413", "415"} <= statuses, (method, path)
        if operation.get("security") and {} not in operation["security"]:
            assert {"401", "403"} <= statuses, (method, path)


def test_every_scoped_operation_names_its_scope(schema):
    from django.urls import resolve

    scoped = 0
    for path, method, operation in operations(schema):
        view = resolve(re.sub(r"\{[^}]+\}", "1", path)).func.view_class
        expected = (getattr(view, "read_scope", None) if method == "get" else
                    getattr(view, "write_scope", None) or getattr(view, "read_scope", None))
        assert operation.get("x-required-scope") == (str(expected) if expected else None), \
            (method, path)
        if expected:
            scoped += 1
            assert f"`{expected}`" in operation["description"]
    assert scoped > 30


def test_the_documented_constraints_of_outcome_operations(schema):
    components = schema["components"]["schemas"]
    rows = components["AggregatesInRequest"]["properties"]["rows"]
    assert (rows["minItems"], rows["maxItems"]) == (1, 1000)
    assert "either `intervention_id` or `referral_code`" in components["OutcomeInRequest"][
        "description"]
    assert "either `value`" in components["SuppressionInputRequest"]["description"]
    assert "Not zero" in components["PlanInputRequest"]["properties"][
        "minimum_detectable_effect"]["description"]
    paging = {p["name"]: p["schema"] for p in schema["paths"]["/api/v1/segments"]["get"][
        "parameters"]}
    assert paging["limit"] == {"type": "integer", "minimum": 1, "maximum": 200}
    assert paging["offset"] == {"type": "integer", "minimum": 0, "maximum": 1_000_000}


def test_an_enum_error_lists_the_allowed_values(tenant):
    response = tenant.client().post("/api/v1/attributes", {"name": "score", "type": "bogus"},
                                    format="json")
    assert response.status_code == 400
    message = response.json()["type"][0]
    assert '"bogus" is not a valid choice' in message
    for allowed in ("text", "number", "date", "choice"):
        assert allowed in message


def test_another_organisations_slug_gets_the_answer_of_an_unknown_one(tenant, other_tenant):
    def enrol(slug: str):  # type: ignore[no-untyped-def]
        return tenant.client().post("/api/v1/campaigns/", {"name": "C", "partners": [slug]},
                                    format="json")

    foreign, unknown = enrol(other_tenant.organisation.slug), enrol("no-such-organisation")
    assert foreign.status_code == unknown.status_code == 400
    assert foreign.json() == unknown.json()
    assert other_tenant.organisation.name not in foreign.content.decode()


def test_a_partner_in_partnership_is_enrolled_by_slug(tenant, other_tenant):
    Partnership.objects.create(programme=tenant.organisation, partner=other_tenant.organisation,
                               triggers=[])
    response = tenant.client().post("/api/v1/campaigns/", {
        "name": "C", "partners": [other_tenant.organisation.slug]}, format="json")
    assert response.status_code == 201, response.content
    assert response.json()["partners"] == [other_tenant.organisation.slug]


@pytest.mark.parametrize(("method", "path"), [
    ("get", "/api/v1/segments/abc"), ("delete", "/api/v1/segments/abc"),
    ("get", "/api/v1/segments/1/"), ("get", "/api/v1/recipients/-1"),
    ("get", "/api/v1/campaigns/abc/"), ("patch", "/api/v1/campaigns/abc/"),
    ("get", "/api/v1/campaigns/1.5/arms/"), ("get", "/api/v1/attributes/1e3"),
    ("get", "/api/v1/interventions/"), ("post", "/api/v1/interventions/"),
    ("post", "/api/v1/outcomes/"), ("get", "/api/v1/campaigns/99999999999999999999/")])
def test_malformed_ids_and_slash_variants_are_json_404s(tenant, method, path):
    response = getattr(tenant.client(), method)(path)
    assert response.status_code == 404, (method, path, response.status_code)
    assert response["Content-Type"].startswith("application/json")
    assert "detail" in response.json()
