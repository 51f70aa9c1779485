"""Admin: the rule editor's live validation, the import report, no readable contact details."""

from __future__ import annotations

import json

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from organisations.models import AuditEvent
from segments.models import CustomAttribute, Recipient, Segment, Suppression
from tests.factories import MembershipFactory, UserFactory
from tests.segments.factories import recipient, segment, standard_attributes

pytestmark = pytest.mark.django_db

VALIDATE = "/admin/segments/segment/validate-rule/"


@pytest.fixture
def manager_client(tenant) -> Client:
    client = Client()
    client.force_login(tenant.manager)
    return client


def validate(client: Client, rule: str, **extra):  # type: ignore[no-untyped-def]
    return client.post(VALIDATE, json.dumps({"rule": rule, **extra}),
                       content_type="application/json")


def test_the_editor_shows_the_fields_and_the_disclosed_count(tenant, manager_client) -> None:
    standard_attributes(tenant.organisation)
    for number in range(12):
        recipient(tenant.organisation, f"P-{number}", attributes={"risk_level": "high"})
    answer = validate(manager_client, 'risk_level = "high" and country = "GB"').json()
    assert answer["valid"] is True
    assert answer["fields"] == ["country", "risk_level"]
    assert answer["count"] == "10"  # 12 rounded to the nearest 5 by disclosure control


def test_the_editor_shows_where_a_rule_is_wrong(manager_client) -> None:
    answer = validate(manager_client, 'country = "GB" and\n  age >> 3').json()
    assert answer["valid"] is False
    assert answer["error"]["line"] == 2
    assert "2:" in answer["error"]["message"]


def test_the_validation_view_is_for_signed_in_staff_only(tenant) -> None:
    response = validate(Client(), "age > 3")
    assert response.status_code == 302 and "/login/" in response["Location"]


def test_a_manager_creates_a_segment_through_the_admin(tenant, manager_client) -> None:
    response = manager_client.post("/admin/segments/segment/add/", {
        "name": "Adults in the UK", "stage": "at_risk", "rule": 'country = "GB" and age >= 18',
        "description": ""})
    assert response.status_code == 302
    created = Segment.objects.get(organisation=tenant.organisation)
    assert (created.status, created.fields) == ("ready", ["age", "country"])
    assert AuditEvent.objects.filter(action="segment.create").exists()


def test_the_admin_refuses_an_invalid_rule_with_the_error(tenant, manager_client) -> None:
    response = manager_client.post("/admin/segments/segment/add/", {
        "name": "Broken", "stage": "at_risk", "rule": "shoe_size > 3", "description": ""})
    assert response.status_code == 200
    assert "shoe_size" in response.content.decode()
    assert not Segment.objects.exists()


def test_the_admin_refuses_a_duplicate_segment_name(tenant, manager_client) -> None:
    segment(tenant.organisation, name="UK")
    response = manager_client.post("/admin/segments/segment/add/", {
        "name": "UK", "stage": "at_risk", "rule": "age > 3", "description": ""})
    assert response.status_code == 200
    assert Segment.objects.count() == 1


def test_the_segment_page_carries_the_live_editor(tenant, manager_client) -> None:
    uk = segment(tenant.organisation)
    page = manager_client.get(f"/admin/segments/segment/{uk.pk}/change/").content.decode()
    assert "validate-rule/" in page and "rule-check" in page


def test_a_manager_declares_a_choice_attribute(tenant, manager_client) -> None:
    response = manager_client.post("/admin/segments/customattribute/add/", {
        "name": "risk_level", "type": "choice", "choices": "low\nhigh", "description": ""})
    assert response.status_code == 302
    assert CustomAttribute.objects.get().choices == ["low", "high"]
    again = manager_client.post("/admin/segments/customattribute/add/", {
        "name": "risk_level", "type": "text", "choices": "", "description": ""})
    assert again.status_code == 200 and CustomAttribute.objects.count() == 1


def test_the_import_page_shows_the_row_report(tenant, manager_client) -> None:
    upload = SimpleUploadedFile("people.csv", b"reference,country,age\nP-1,GB,40\nP-2,GB,-4\n")
    response = manager_client.post("/admin/segments/recipient/import/",
                                   {"file": upload, "format": "csv"})
    page = response.content.decode()
    assert response.status_code == 200
    assert "1 created, 0 updated, 1 row rejected" in page
    assert "must be a whole number" in page
    assert Recipient.objects.filter(organisation=tenant.organisation).count() == 1


def test_a_badly_encoded_file_is_an_error_on_the_form(tenant, manager_client) -> None:
    upload = SimpleUploadedFile("people.csv", "reference\nMüller\n".encode("latin-1"))
    response = manager_client.post("/admin/segments/recipient/import/",
                                   {"file": upload, "format": "csv"})
    assert response.status_code == 200
    assert "line 2 is not valid UTF-8" in response.content.decode()


def test_a_viewer_cannot_import(tenant) -> None:
    viewer = UserFactory(username="viewer")
    MembershipFactory(user=viewer, organisation=tenant.organisation, role="viewer")
    client = Client()
    client.force_login(viewer)
    upload = SimpleUploadedFile("people.csv", b"reference\nP-1\n")
    response = client.post("/admin/segments/recipient/import/", {"file": upload})
    assert response.status_code == 403
    assert not Recipient.objects.exists()


def test_recipient_pages_show_no_readable_contact_detail(tenant, manager_client) -> None:
    created = recipient(tenant.organisation, email="jane.doe@example.org", phone="+447700900123")
    listing = manager_client.get("/admin/segments/recipient/").content.decode()
    detail = manager_client.get(
        f"/admin/segments/recipient/{created.pk}/change/").content.decode()
    for page in (listing, detail):
        assert "jane.doe" not in page and "7700900123" not in page
    assert "j…@example.org" in detail


def test_another_organisations_recipient_is_not_visible(tenant, other_tenant,
                                                        manager_client) -> None:
    theirs = recipient(other_tenant.organisation, "P-1")
    response = manager_client.get(f"/admin/segments/recipient/{theirs.pk}/change/")
    assert response.status_code == 302  # the admin redirects a missing object to the index


def test_erasing_from_the_admin_crypto_shreds(tenant, manager_client) -> None:
    created = recipient(tenant.organisation, email="a@example.org")
    manager_client.post("/admin/segments/recipient/", {
        "action": "erase_selected", "_selected_action": [created.pk]})
    created.refresh_from_db()
    assert created.status == "erased" and created.data_key_wrapped == ""


def test_a_suppression_added_in_the_admin_stores_only_a_digest(tenant, manager_client) -> None:
    response = manager_client.post("/admin/segments/suppression/add/", {
        "channel": "email", "value": "Someone@Example.org", "reason": "complaint", "note": ""})
    assert response.status_code == 302
    suppression = Suppression.objects.get()
    assert "someone" not in str(suppression.__dict__).lower()
