import subprocess
import sys

import pytest
from django.contrib.auth import get_user_model
from django.core.cache import cache

from tests.outreach.test_settings import ROOT, production_env

pytestmark = pytest.mark.django_db

PASSWORD = "correct horse battery staple"


def test_a_manager_sees_only_their_organisations_api_keys(client, tenant, other_tenant):
    client.force_login(tenant.manager)
    page = client.get("/admin/organisations/apikey/").content.decode()
    assert tenant.api_key.prefix in page
    assert other_tenant.api_key.prefix not in page


def test_a_manager_gets_404_for_another_organisations_key(client, tenant, other_tenant):
    client.force_login(tenant.manager)
    response = client.get(f"/admin/organisations/apikey/{other_tenant.api_key.pk}/change/")
    assert response.status_code in (302, 404)
    assert other_tenant.api_key.prefix not in response.content.decode()


def test_a_new_key_is_shown_once_and_stored_hashed(client, tenant):
    client.force_login(get_user_model().objects.create_superuser("root", password=PASSWORD))
    response = client.post("/admin/organisations/apikey/add/", {
        "organisation": tenant.organisation.pk, "name": "helpline uploads",
        "scopes": ["outcomes:write"]}, follow=True)
    shown = [str(m) for m in response.context["messages"]]
    assert any("will not be shown again: ork_" in m for m in shown)
    secret = next(m for m in shown if "ork_" in m).split(": ")[-1]
    assert secret not in str(list(tenant.organisation.api_keys.values()))


def test_admin_login_locks_out_after_repeated_failures(client, tenant):
    cache.clear()
    for _ in range(5):
        client.post("/admin/login/", {"username": tenant.manager.username, "password": "wrong"},
                    REMOTE_ADDR="10.9.9.9")
    response = client.post("/admin/login/", {"username": tenant.manager.username,
                                             "password": PASSWORD}, REMOTE_ADDR="10.9.9.9")
    assert response.status_code == 429
    assert "_auth_user_id" not in client.session


def test_with_two_factor_required_a_password_alone_does_not_open_the_admin(client, tenant,
                                                                        settings):
    settings.ADMIN_REQUIRE_OTP = True
    client.force_login(tenant.manager)
    response = client.get("/admin/")
    assert response.status_code == 302
    assert "/admin/login/" in response["Location"]
    login_page = client.get("/admin/login/").content.decode()
    assert "otp_token" in login_page


def test_production_turns_two_factor_on():
    code = ("import django; django.setup(); from django.conf import settings; "
            "print(settings.ADMIN_REQUIRE_OTP)")
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=production_env(),
                            capture_output=True, text=True, timeout=120)
    assert result.stdout.strip().endswith("True"), result.stderr


def test_an_admin_edit_of_an_organisation_writes_an_audit_row(client, tenant):
    from organisations.models import AuditEvent

    client.force_login(tenant.manager)
    organisation = tenant.organisation
    response = client.post(f"/admin/organisations/organisation/{organisation.pk}/change/", {
        "name": "Renamed Programme", "slug": organisation.slug, "kind": organisation.kind,
        "time_zone": "Europe/London", "created_at_0": "2026-01-01", "created_at_1": "00:00:00",
        "memberships-TOTAL_FORMS": 0, "memberships-INITIAL_FORMS": 0,
        "partnerships-TOTAL_FORMS": 0, "partnerships-INITIAL_FORMS": 0})
    assert response.status_code == 302, response.content.decode()[:2000]
    event = AuditEvent.objects.get(action="organisation.admin.change")
    assert event.actor_user == tenant.manager
    assert "name" in event.changes["fields"]
