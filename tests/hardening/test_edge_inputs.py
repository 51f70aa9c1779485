"""Hostile input at the edge: deep JSON, NUL and lone surrogates, paging bounds, unknown paths.

Each answer is a 4xx naming the field; none is a 500.
"""

from __future__ import annotations

import json

import pytest
from rest_framework.test import APIClient

from evaluation.models import Outcome
from segments.models import CustomAttribute

DEEP = "[" * 1000 + "]" * 1000
CONTEXT = {"trigger": "search_blocked_term", "country": "GB", "language": "en",
           "session_id": "person-1"}


def raw(client: APIClient, path: str, body: str, content_type: str = "application/json"):  # type: ignore[no-untyped-def]
    """Post a body exactly as given (json.dumps writes lone surrogates as \\ud800 escapes)."""
    return client.generic("POST", path, body.encode(), content_type=content_type)


@pytest.mark.parametrize("path", ["/api/v1/interventions", "/api/v1/outcomes",
                                  "/api/v1/outcomes/aggregates"])
def test_a_thousand_levels_of_nesting_is_a_400_on_the_partner_endpoints(world, path):
    response = raw(world.client(), path, DEEP)
    assert response.status_code == 400
    assert "deeply" in json.dumps(response.json())


def test_deep_nesting_under_a_field_names_that_field(world):
    body = json.dumps({**CONTEXT, "attributes": {"a": json.loads("[" * 40 + "]" * 40)}})
    response = raw(world.client(), "/api/v1/interventions", body)
    assert response.status_code == 400
    assert "attributes" in response.json()


@pytest.mark.parametrize("path", ["/api/v1/campaigns/", "/api/v1/messages/", "/api/v1/segments",
                                  "/api/v1/attributes", "/api/v1/recipients",
                                  "/api/v1/recipients/import", "/api/v1/suppressions",
                                  "/api/v1/segments/validate", "/api/v1/recipients/lookup"])
def test_a_thousand_levels_of_nesting_is_a_400_on_the_programme_endpoints(tenant, path):
    response = raw(tenant.client(), path, DEEP)
    assert response.status_code == 400, response.content[:200]


def test_a_deep_ndjson_line_fails_alone_and_the_valid_lines_are_kept(world, helpline):
    code = world.campaign.referral_code
    good = [json.dumps({"kind": "helpline_contact", "idempotency_key": f"k{i}",
                        "referral_code": code}) for i in (1, 2)]
    body = "\n".join([good[0], DEEP, '{"kind": ' + DEEP + "}", good[1]]) + "\n"
    response = raw(world.client(helpline), "/api/v1/outcomes/batch", body,
                   "application/x-ndjson")
    assert response.status_code == 200
    report = response.json()
    assert (report["accepted"], report["rejected"]) == (2, 2)
    assert [error["line"] for error in report["errors"]] == [2, 3]
    assert Outcome.objects.count() == 2


@pytest.mark.parametrize(("field", "value"), [
    ("session_id", "person-\ud800"), ("session_id", "person-\x00"),
    ("trigger", "search_\udfff"), ("country", "G\x00")])
def test_bad_text_in_an_intervention_field_is_a_400_naming_it(world, field, value):
    response = raw(world.client(), "/api/v1/interventions", json.dumps({**CONTEXT, field: value}))
    assert response.status_code == 400
    assert field in response.json()


@pytest.mark.parametrize("attributes", [{"age\ud800": "x"}, {"surface": "se\x00arch"},
                                        {"surface": "\udc00"}, {"a\x00": 1}])
def test_bad_text_in_an_attribute_name_or_value_is_a_400_naming_attributes(world, attributes):
    body = json.dumps({**CONTEXT, "attributes": attributes})
    response = raw(world.client(), "/api/v1/interventions", body)
    assert response.status_code == 400
    assert "attributes" in response.json()


@pytest.mark.parametrize(("field", "value"), [
    ("kind", "helpline_\ud800"), ("referral_code", "K7\ud800"), ("referral_code", "K7\x00PQ"),
    ("idempotency_key", "call-\x00"), ("idempotency_key", "call-\ud800")])
def test_bad_text_in_an_outcome_field_is_a_400_naming_it(world, helpline, field, value):
    event = {"kind": "helpline_contact", "idempotency_key": "call-1",
             "referral_code": world.campaign.referral_code, field: value}
    response = raw(world.client(helpline), "/api/v1/outcomes", json.dumps(event))
    assert response.status_code == 400
    assert field in response.json()


def test_bad_text_in_a_batch_line_rejects_that_line_naming_the_field(world, helpline):
    code = world.campaign.referral_code
    lines = [{"kind": "helpline_contact", "idempotency_key": "k1", "referral_code": code},
             {"kind": "helpline_contact", "idempotency_key": "k2", "referral_code": "A\x00"},
             {"kind": "helpline_contact", "idempotency_key": "k3", "referral_code": "\ud800"}]
    body = "\n".join(json.dumps(line) for line in lines) + "\n"
    report = raw(world.client(helpline), "/api/v1/outcomes/batch", body,
                 "application/x-ndjson").json()
    assert report["accepted"] == 1
    assert [(e["line"], list(e["errors"])) for e in report["errors"]] == [
        (2, ["referral_code"]), (3, ["referral_code"])]


def test_bad_text_in_a_daily_aggregate_source_is_a_400(world, helpline):
    body = json.dumps({"rows": [{"day": "2026-01-01", "kind": "helpline_contact",
                                 "referral_source": "a\x00b", "count": 1}]})
    response = raw(world.client(helpline), "/api/v1/outcomes/aggregates", body)
    assert response.status_code == 400
    assert "rows" in response.json()


def test_a_csv_import_with_a_nul_byte_is_a_400_naming_the_file_and_line(tenant):
    content = b"reference,stage,country,language\nP-1,at_risk,GB,en\nP-2,at_r\x00isk,GB,en\n"
    response = tenant.client().generic("POST", "/api/v1/recipients/import", content,
                                       content_type="text/csv")
    assert response.status_code == 400
    assert "line 3" in response.json()["file"][0]


def test_an_ndjson_import_line_with_a_nul_escape_is_rejected_by_row(tenant):
    content = (json.dumps({"reference": "P-1", "stage": "at_risk", "country": "GB",
                           "language": "en", "time_zone": "Europe/London\x00"}) + "\n").encode()
    response = tenant.client().generic("POST", "/api/v1/recipients/import", content,
                                       content_type="application/x-ndjson")
    assert response.status_code == 200
    assert response.json()["rejected"][0]["row"] == 1


def test_a_recipient_upsert_with_a_nul_in_an_attribute_value_is_a_400(tenant):
    # A declared attribute, so the value would reach PostgreSQL (which refuses NUL: a 500).
    CustomAttribute.objects.create(organisation=tenant.organisation, name="risk_level",
                                   type="text")
    body = json.dumps({"reference": "P-1", "stage": "at_risk", "country": "GB",
                       "language": "en", "attributes": {"risk_level": "hi\x00gh"}})
    response = raw(tenant.client(), "/api/v1/recipients", body)
    assert response.status_code == 400
    assert "attributes" in response.json()


@pytest.mark.parametrize("query", ["limit=9223372036854775808", "offset=9223372036854775808",
                                   "limit=-1", "offset=-5", "limit=0", "limit=abc",
                                   "offset=1e3", "limit=201", "offset=1000001"])
def test_paging_out_of_bounds_is_a_400_naming_the_parameter(tenant, query):
    response = tenant.client().get(f"/api/v1/help-resources/?{query}")
    assert response.status_code == 400
    assert query.split("=")[0] in response.json()


def test_paging_within_bounds_is_served(tenant):
    assert tenant.client().get("/api/v1/help-resources/?limit=200&offset=1000000") \
        .status_code == 200


def test_a_nul_in_a_query_parameter_is_a_400_naming_it(tenant):
    response = tenant.client().get("/api/v1/campaigns/?status=dr%00aft")
    assert response.status_code == 400
    assert "status" in response.json()


@pytest.mark.parametrize(("method", "path"), [
    ("post", "/api/v1/interventions/"), ("get", "/api/v1/interventions/"),
    ("get", "/api/v1/no-such-thing"), ("post", "/api/v1/campaigns"),
    ("get", "/api/v1/segments/abc"), ("get", "/api/v1/campaigns/%00/")])
def test_an_unknown_api_path_is_a_json_404(tenant, method, path):
    response = getattr(tenant.client(), method)(path)
    assert response.status_code == 404
    assert response["Content-Type"].startswith("application/json")
    assert response.json() == {"detail": "Not found."}
