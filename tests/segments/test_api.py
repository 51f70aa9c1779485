"""The segments API: every endpoint's authorisation matrix, and what partners rely on."""

from __future__ import annotations

import hashlib
import hmac

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from rest_framework.test import APIClient

from segments.api.views import sms_webhook_secret
from segments.models import Recipient, Segment, Suppression
from segments.selectors import recipient_find
from tests.segments.factories import recipient, segment, standard_attributes

pytestmark = pytest.mark.django_db

# (method, path template, scope it needs, body)
ENDPOINTS = [
    ("get", "/api/v1/segments", "segments:read", None),
    ("post", "/api/v1/segments", "segments:write",
     {"name": "New", "stage": "at_risk", "rule": 'country = "GB"'}),
    ("post", "/api/v1/segments/validate", "segments:read", {"rule": "age > 1"}),
    ("get", "/api/v1/segments/{segment}", "segments:read", None),
    ("patch", "/api/v1/segments/{segment}", "segments:write", {"name": "Renamed"}),
    ("delete", "/api/v1/segments/{segment}", "segments:write", None),
    ("get", "/api/v1/segments/{segment}/preview", "segments:read", None),
    ("get", "/api/v1/attributes", "segments:read", None),
    ("post", "/api/v1/attributes", "segments:write", {"name": "score", "type": "number"}),
    ("get", "/api/v1/recipients", "recipients:read", None),
    ("post", "/api/v1/recipients", "recipients:write", {"reference": "P-9"}),
    ("post", "/api/v1/recipients/lookup", "recipients:read", {"reference": "P-1"}),
    ("get", "/api/v1/recipients/{recipient}", "recipients:read", None),
    ("get", "/api/v1/recipients/{recipient}/export", "recipients:read", None),
    ("post", "/api/v1/recipients/{recipient}/erase", "recipients:write", None),
    ("post", "/api/v1/recipients/import", "recipients:write", {"recipients": []}),
    ("get", "/api/v1/suppressions", "recipients:read", None),
    ("post", "/api/v1/suppressions", "recipients:write",
     {"channel": "email", "reason": "manual", "value": "x@example.org"}),
]
OWN_OBJECT_ENDPOINTS = [e for e in ENDPOINTS if "{" in e[1]]


@pytest.fixture
def objects(tenant):
    return {"segment": segment(tenant.organisation).pk,
            "recipient": recipient(tenant.organisation, "P-1", email="a@example.org").pk}


def call(client: APIClient, method: str, path: str, body):  # type: ignore[no-untyped-def]
    return getattr(client, method)(path, body, format="json")


@pytest.mark.parametrize(("method", "path", "scope", "body"), ENDPOINTS)
def test_every_endpoint_answers_401_without_credentials(anonymous_client, objects, method,
                                                        path, scope, body) -> None:
    response = call(anonymous_client, method, path.format(**objects), body)
    assert response.status_code == 401


@pytest.mark.parametrize(("method", "path", "scope", "body"), ENDPOINTS)
def test_every_endpoint_answers_403_for_a_key_without_its_scope(tenant, objects, method, path,
                                                                scope, body) -> None:
    others = [s for s in ("segments:read", "segments:write", "recipients:read",
                          "recipients:write") if s != scope]
    client = tenant.client(tenant.key_with(*others))
    assert call(client, method, path.format(**objects), body).status_code == 403


@pytest.mark.parametrize(("method", "path", "scope", "body"), ENDPOINTS)
def test_every_endpoint_works_with_just_its_scope(tenant, objects, method, path, scope,
                                                  body) -> None:
    client = tenant.client(tenant.key_with(scope))
    assert call(client, method, path.format(**objects), body).status_code in (200, 201, 204)


@pytest.mark.parametrize(("method", "path", "scope", "body"), OWN_OBJECT_ENDPOINTS)
def test_another_organisation_gets_404_for_our_objects(other_tenant, objects, method, path,
                                                       scope, body) -> None:
    response = call(other_tenant.client(), method, path.format(**objects), body)
    assert response.status_code == 404
    assert Segment.objects.filter(pk=objects["segment"], name="UK").exists()
    assert Recipient.objects.get(pk=objects["recipient"]).status == "active"


def test_creating_a_segment_with_a_bad_rule_names_the_position(tenant) -> None:
    response = tenant.client().post("/api/v1/segments", {
        "name": "Broken", "stage": "at_risk", "rule": 'country = "GB" and shoe_size > 3'},
        format="json")
    assert response.status_code == 400
    body = response.json()
    assert "shoe_size" in body["rule"][0]
    assert (body["line"], body["column"]) == (1, 20)
    assert not Segment.objects.exists()


def test_validate_returns_the_fields_or_the_error(tenant) -> None:
    standard_attributes(tenant.organisation)
    client = tenant.client()
    good = client.post("/api/v1/segments/validate",
                       {"rule": 'risk_level = "high" and country in ("GB", "IE")'}, format="json")
    assert good.status_code == 200
    assert good.json()["fields"] == ["country", "risk_level"]
    bad = client.post("/api/v1/segments/validate", {"rule": "age >= "}, format="json")
    assert bad.status_code == 200
    assert bad.json()["valid"] is False and bad.json()["error"]["column"] >= 6
    wrong_type = client.post("/api/v1/segments/validate", {"rule": 'age > "old"'}, format="json")
    assert "number" in wrong_type.json()["error"]["message"]


def test_the_preview_count_passes_disclosure_control(tenant) -> None:
    uk = segment(tenant.organisation)
    for number in range(3):
        recipient(tenant.organisation, f"P-{number}")
    small = tenant.client().get(f"/api/v1/segments/{uk.pk}/preview").json()
    assert small == {"count": None, "count_display": "<10", "suppressed": True, "samples": []}
    for number in range(3, 13):
        recipient(tenant.organisation, f"P-{number}")
    larger = tenant.client().get(f"/api/v1/segments/{uk.pk}/preview").json()
    assert (larger["count"], larger["suppressed"], len(larger["samples"])) == (15, False, 5)


def test_deleting_an_attribute_marks_segments_using_it_invalid(tenant) -> None:
    standard_attributes(tenant.organisation)
    high = segment(tenant.organisation, 'risk_level = "high"', name="High")
    attribute = tenant.organisation.custom_attributes.get(name="risk_level")
    assert tenant.client().delete(f"/api/v1/attributes/{attribute.pk}").status_code == 204
    high.refresh_from_db()
    assert high.status == "invalid" and "risk_level" in high.error
    preview = tenant.client().get(f"/api/v1/segments/{high.pk}/preview")
    assert preview.status_code == 400


def test_upserting_twice_creates_then_updates(tenant) -> None:
    client = tenant.client()
    first = client.post("/api/v1/recipients", {"reference": "P-1", "country": "GB",
                                               "email": "a@example.org",
                                               "consent_basis": "consent"}, format="json")
    second = client.post("/api/v1/recipients", {"reference": "P-1", "country": "IE"},
                         format="json")
    assert (first.status_code, second.status_code) == (201, 200)
    assert first.json()["id"] == second.json()["id"]
    assert second.json()["contacts"][0]["channel"] == "email"
    assert "a@example.org" not in second.content.decode()


def test_an_upsert_with_a_bad_field_is_a_400_naming_it(tenant) -> None:
    response = tenant.client().post("/api/v1/recipients", {"reference": "P-1", "country": "UK1"},
                                    format="json")
    assert response.status_code == 400
    assert "country" in response.json()


def test_the_recipient_list_uses_a_constant_number_of_queries(tenant,
                                                              django_assert_max_num_queries):
    for number in range(12):
        recipient(tenant.organisation, f"P-{number}", email=f"p{number}@example.org")
    with django_assert_max_num_queries(8):
        response = tenant.client().get("/api/v1/recipients")
    assert response.json()["count"] == 12


def test_a_csv_upload_answers_with_the_row_report(tenant) -> None:
    upload = SimpleUploadedFile("clients.csv", b"reference,country,age\nP-1,GB,40\nP-2,GB,old\n",
                                content_type="text/csv")
    response = tenant.client().post("/api/v1/recipients/import", {"file": upload},
                                    format="multipart")
    assert response.status_code == 200
    assert response.json() == {"created": 1, "updated": 0, "rejected_rows": 1, "rejected": [
        {"row": 3, "field": "age", "problem": "must be a whole number from 0 to 130"}]}


def test_a_raw_ndjson_body_is_imported(tenant) -> None:
    response = tenant.client().generic(
        "POST", "/api/v1/recipients/import", b'{"reference": "P-1"}\n{"reference": "P-2"}\n',
        content_type="application/x-ndjson")
    assert response.status_code == 200 and response.json()["created"] == 2


def test_a_badly_encoded_upload_is_a_400_naming_the_line(tenant) -> None:
    response = tenant.client().generic(
        "POST", "/api/v1/recipients/import", "reference\nP-1\nMüller\n".encode("latin-1"),
        content_type="text/csv")
    assert response.status_code == 400
    assert "line 3" in response.json()["file"][0]
    assert not Recipient.objects.exists()


def test_an_oversized_upload_is_a_413(tenant, settings) -> None:
    settings.SEGMENTS_IMPORT_MAX_BYTES = 50
    response = tenant.client().generic("POST", "/api/v1/recipients/import",
                                       b"reference\n" + b"P-1\n" * 40, content_type="text/csv")
    assert response.status_code == 413
    assert not Recipient.objects.exists()


def test_lookup_finds_by_reference_without_putting_it_in_the_url(tenant, objects) -> None:
    response = tenant.client().post("/api/v1/recipients/lookup", {"reference": "P-1"},
                                    format="json")
    assert response.json()["id"] == objects["recipient"]
    missing = tenant.client().post("/api/v1/recipients/lookup", {"reference": "nobody"},
                                   format="json")
    assert missing.status_code == 404


def test_export_and_erase_a_recipient(tenant, objects) -> None:
    client = tenant.client()
    exported = client.get(f"/api/v1/recipients/{objects['recipient']}/export").json()
    assert exported["contacts"][0]["value"] == "a@example.org"
    erased = client.post(f"/api/v1/recipients/{objects['recipient']}/erase").json()
    assert erased["status"] == "erased" and erased["contacts"] == []
    after = client.get(f"/api/v1/recipients/{objects['recipient']}/export").json()
    assert after["contacts"] == []


def test_a_suppression_can_be_added_once_and_removed(tenant) -> None:
    client = tenant.client()
    body = {"channel": "sms", "reason": "complaint", "value": "+44 7700 900123"}
    first = client.post("/api/v1/suppressions", body, format="json")
    again = client.post("/api/v1/suppressions", body, format="json")
    assert (first.status_code, again.status_code) == (201, 200)
    assert "7700" not in first.content.decode()
    assert client.delete(f"/api/v1/suppressions/{first.json()['id']}").status_code == 204
    assert not Suppression.objects.exists()


def test_a_suppression_needs_exactly_one_target(tenant) -> None:
    response = tenant.client().post("/api/v1/suppressions",
                                    {"channel": "sms", "reason": "manual"}, format="json")
    assert response.status_code == 400


def signed_sms(organisation, body: bytes, *, secret: str | None = None) -> dict:
    key = (secret or sms_webhook_secret(organisation)).encode()
    return {"HTTP_X_OUTREACH_ORGANISATION": organisation.slug,
            "HTTP_X_OUTREACH_SIGNATURE": "sha256=" + hmac.new(key, body,
                                                                hashlib.sha256).hexdigest()}


def test_an_inbound_stop_sms_suppresses_the_number(tenant, anonymous_client) -> None:
    created = recipient(tenant.organisation, phone="+447700900123")
    body = b"From=%2B447700900123&Body=STOP"
    response = anonymous_client.generic(
        "POST", "/api/v1/sms/inbound", body, content_type="application/x-www-form-urlencoded",
        **signed_sms(tenant.organisation, body))
    assert response.status_code == 200 and response.json() == {"suppressed": True}
    assert Suppression.objects.filter(organisation=tenant.organisation, channel="sms",
                                      blind_index=created.contact_points.get().blind_index)


def test_an_inbound_sms_with_a_wrong_signature_is_refused(tenant, anonymous_client) -> None:
    body = b"From=%2B447700900123&Body=STOP"
    response = anonymous_client.generic(
        "POST", "/api/v1/sms/inbound", body, content_type="application/x-www-form-urlencoded",
        **signed_sms(tenant.organisation, body, secret="guess"))
    assert response.status_code == 403
    assert not Suppression.objects.exists()


def test_an_inbound_sms_with_bad_fields_is_a_400(tenant, anonymous_client) -> None:
    body = b"Body=STOP"
    response = anonymous_client.generic(
        "POST", "/api/v1/sms/inbound", body, content_type="application/x-www-form-urlencoded",
        **signed_sms(tenant.organisation, body))
    assert response.status_code == 400


def test_recipient_references_never_appear_in_api_answers(tenant) -> None:
    recipient(tenant.organisation, "SECRET-REF-77")
    found = recipient_find(organisation=tenant.organisation, reference="SECRET-REF-77")
    response = tenant.client().get(f"/api/v1/recipients/{found.pk}")
    assert "SECRET-REF-77" not in response.content.decode()


def test_an_upload_in_an_unsupported_format_is_a_415(tenant) -> None:
    response = tenant.client().generic("POST", "/api/v1/recipients/import", b"reference\nP-1\n",
                                       content_type="application/x-www-form-urlencoded")
    assert response.status_code == 415
    assert not Recipient.objects.exists()
