from datetime import timedelta

import pytest
from django.utils import timezone

from organisations.models import ApiKey, AuditEvent
from organisations.selectors import api_key_authenticate
from organisations.services import Actor, api_key_create, api_key_revoke

pytestmark = pytest.mark.django_db


def test_it_stores_only_a_hash_of_the_key(tenant):
    api_key, secret = api_key_create(organisation=tenant.organisation, name="platform",
                                     scopes=["interventions:write"], actor=Actor.system())
    stored = ApiKey.objects.get(pk=api_key.pk)
    assert secret.startswith(f"ork_{stored.prefix}_")
    assert secret not in str(stored.__dict__)
    assert len(secret.split("_", 2)[2]) >= 43  # 32 random bytes, base64: 256 bits


def test_it_authenticates_the_right_key_and_rejects_a_near_miss(tenant):
    assert api_key_authenticate(tenant.secret) == tenant.api_key
    assert api_key_authenticate(tenant.secret[:-1] + ("A" if tenant.secret[-1] != "A" else "B"))\
        is None
    assert api_key_authenticate("not-a-key") is None


def test_it_refuses_unknown_scopes(tenant):
    with pytest.raises(ValueError, match="unknown scopes: launch:missiles"):
        api_key_create(organisation=tenant.organisation, name="x", scopes=["launch:missiles"],
                       actor=Actor.system())


def test_it_writes_an_audit_row_for_creation_and_revocation(tenant):
    api_key_revoke(api_key=tenant.api_key, actor=Actor(user=tenant.manager))
    actions = list(AuditEvent.objects.filter(object_id=str(tenant.api_key.pk))
                   .values_list("action", flat=True))
    assert sorted(actions) == ["api_key.create", "api_key.revoke"]


def test_whoami_answers_with_the_key_organisation_and_scopes(tenant):
    response = tenant.client().get("/api/v1/whoami")
    assert response.status_code == 200
    assert response.json()["organisation"] == tenant.organisation.slug
    assert "interventions:write" in response.json()["scopes"]


def test_it_answers_401_without_credentials(anonymous_client):
    response = anonymous_client.get("/api/v1/whoami")
    assert response.status_code == 401
    assert response["WWW-Authenticate"] == "Bearer"


@pytest.mark.parametrize("header", ["Bearer", "Bearer ork_zzzzzzzz_nope", "Token abc", "Basic x"])
def test_it_answers_401_for_a_malformed_or_wrong_key(anonymous_client, header):
    anonymous_client.credentials(HTTP_AUTHORIZATION=header)
    assert anonymous_client.get("/api/v1/whoami").status_code == 401


def test_it_answers_401_for_a_revoked_key(tenant):
    api_key_revoke(api_key=tenant.api_key, actor=Actor.system())
    assert tenant.client().get("/api/v1/whoami").status_code == 401


def test_it_answers_401_for_an_expired_key(tenant):
    secret = tenant.key_with("help_resources:read",
                             expires_at=timezone.now() - timedelta(seconds=1))
    assert tenant.client(secret).get("/api/v1/whoami").status_code == 401


def test_it_records_when_a_key_was_last_used(tenant):
    tenant.client().get("/api/v1/whoami")
    tenant.api_key.refresh_from_db()
    assert tenant.api_key.last_used_at is not None


def test_a_signed_in_user_without_an_organisation_is_refused(outsider):
    from rest_framework.test import APIClient

    client = APIClient()
    client.force_authenticate(outsider)
    response = client.get("/api/v1/whoami")
    assert response.status_code == 403
    assert "organisation" in response.json()["detail"]


def test_it_throttles_per_organisation_with_retry_after(tenant, other_tenant, monkeypatch):
    from organisations.api.throttling import OrganisationRateThrottle

    monkeypatch.setattr(OrganisationRateThrottle, "THROTTLE_RATES", {"organisation": "3/min"})
    second_key = tenant.key_with("help_resources:read")
    statuses = [tenant.client().get("/api/v1/whoami").status_code for _ in range(2)]
    statuses.append(tenant.client(second_key).get("/api/v1/whoami").status_code)
    throttled = tenant.client(second_key).get("/api/v1/whoami")
    assert statuses == [200, 200, 200]
    assert throttled.status_code == 429
    assert int(throttled["Retry-After"]) > 0
    assert other_tenant.client().get("/api/v1/whoami").status_code == 200
