import pytest
from django.test import Client

from directory.demo import DEMO_CONFIRMATION_NOTE, seed_demo
from directory.models import HelpResource, VerificationStatus
from organisations.models import AuditEvent
from tests.directory.factories import HelpResourceFactory

pytestmark = pytest.mark.django_db

UK_HELPLINE = "stop-it-now-uk-ireland-helpline"


def test_the_demo_confirms_displayable_records_and_says_so(tenant, shared_data_dir):
    report = seed_demo(organisation=tenant.organisation)
    assert report.confirmed == 15
    assert any("DEMO: confirmed 15" in note for note in report.notes)
    resources = HelpResource.objects.filter(organisation=tenant.organisation)
    confirmed = [r for r in resources
                 if r.verification_status() == VerificationStatus.CONFIRMED]
    assert len(confirmed) == 15
    assert {r.confirmation_note for r in confirmed} == {DEMO_CONFIRMATION_NOTE}
    unreachable = resources.get(slug="preventell-sweden")
    assert unreachable.verification_status() == VerificationStatus.NOT_DISPLAYABLE


def test_the_demo_structures_the_uk_helpline_hours_and_marks_them(tenant, shared_data_dir):
    seed_demo(organisation=tenant.organisation)
    helpline = HelpResource.objects.get(organisation=tenant.organisation, slug=UK_HELPLINE)
    assert helpline.phone == "+448081000900"  # from the data, never invented
    assert helpline.time_zone == "Europe/London"
    assert "Demo only" in helpline.structured_hours_note
    assert [h.as_dict() for h in helpline.opening_hours.all()][-1] == {
        "weekday": 5, "opens": "09:00", "closes": "17:00"}


def test_the_demo_is_idempotent(tenant, shared_data_dir):
    seed_demo(organisation=tenant.organisation)
    events = AuditEvent.objects.count()
    report = seed_demo(organisation=tenant.organisation)
    assert (report.created, report.updated, report.confirmed) == (0, 0, 0)
    assert HelpResource.objects.count() == 18
    assert AuditEvent.objects.count() == events


@pytest.fixture
def manager_client(tenant):
    client = Client()
    client.force_login(tenant.manager)
    return client


def test_the_admin_lists_resources_with_their_verification_status(manager_client, tenant,
                                                                  other_tenant):
    HelpResourceFactory(organisation=tenant.organisation, name="Our line")
    HelpResourceFactory(organisation=other_tenant.organisation, name="Their line")
    response = manager_client.get("/admin/directory/helpresource/",
                                  {"verification": "needs_verification", "country": "GB"})
    assert response.status_code == 200
    assert b"Our line" in response.content
    assert b"needs verification" in response.content
    assert b"Their line" not in response.content


def test_the_admin_confirm_action_is_audited(manager_client, tenant):
    line = HelpResourceFactory(organisation=tenant.organisation)
    unreachable = HelpResourceFactory(organisation=tenant.organisation, phone=None, url=None)
    response = manager_client.post("/admin/directory/helpresource/", {
        "action": "confirm_selected", "_selected_action": [line.pk, unreachable.pk]})
    assert response.status_code == 302
    line.refresh_from_db()
    unreachable.refresh_from_db()
    assert line.confirmed_by == tenant.manager
    assert unreachable.confirmed_at is None
    assert AuditEvent.objects.filter(action="help_resource.confirm", object_id=str(line.pk),
                                     actor_user=tenant.manager).exists()


def test_editing_the_phone_in_the_admin_withdraws_the_confirmation(manager_client, tenant):
    line = HelpResourceFactory(organisation=tenant.organisation)
    manager_client.post("/admin/directory/helpresource/", {
        "action": "confirm_selected", "_selected_action": [line.pk]})
    page = manager_client.get(f"/admin/directory/helpresource/{line.pk}/change/")
    assert page.status_code == 200
    form = page.context["adminform"].form
    data = {name: form.initial.get(name) for name in form.fields}
    data = {k: ("" if v is None else v) for k, v in data.items()}
    for name in ("audiences", "countries", "languages"):
        data[name] = '["GB"]' if name == "countries" else (
            '["en"]' if name == "languages" else '["at_risk_self"]')
    data.update({"phone": "+441234500000", "anonymous": "unknown",
                 "opening_hours-TOTAL_FORMS": "0", "opening_hours-INITIAL_FORMS": "0"})
    response = manager_client.post(f"/admin/directory/helpresource/{line.pk}/change/", data)
    assert response.status_code == 302, response.content[:2000]
    line.refresh_from_db()
    assert line.phone == "+441234500000"
    assert line.confirmed_at is None
    assert AuditEvent.objects.filter(action="help_resource.update",
                                     object_id=str(line.pk)).exists()


def test_the_admin_list_costs_the_same_queries_for_more_rows(manager_client, tenant,
                                                              django_assert_max_num_queries):
    for _ in range(3):
        HelpResourceFactory(organisation=tenant.organisation)
    manager_client.get("/admin/directory/helpresource/")  # warm the session
    with django_assert_max_num_queries(1000) as few:
        manager_client.get("/admin/directory/helpresource/")
    for _ in range(10):
        HelpResourceFactory(organisation=tenant.organisation)
    with django_assert_max_num_queries(len(few.captured_queries)):
        response = manager_client.get("/admin/directory/helpresource/")
    assert response.status_code == 200


def test_a_reviewer_cannot_confirm_resources(tenant):
    line = HelpResourceFactory(organisation=tenant.organisation)
    client = Client()
    client.force_login(tenant.reviewer)
    client.post("/admin/directory/helpresource/", {
        "action": "confirm_selected", "_selected_action": [line.pk]})
    line.refresh_from_db()
    assert line.confirmed_at is None
