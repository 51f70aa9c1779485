"""Operator commands: an organisation, a partnership and a scoped API key without a shell."""

from __future__ import annotations

from io import StringIO

import pytest
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command
from rest_framework.test import APIClient

from organisations.models import ApiKey, AuditEvent, Membership, Organisation, Partnership


def run(*args: str) -> tuple[str, str]:
    out, err = StringIO(), StringIO()
    call_command(*args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


@pytest.fixture
def programme(db) -> Organisation:
    run("organisation_create", "--name", "Prevention Programme", "--kind", "programme_owner",
        "--time-zone", "Europe/London")
    return Organisation.objects.get(slug="prevention-programme")


def test_it_creates_an_organisation_with_an_audit_row(programme):
    assert programme.kind == "programme_owner" and programme.time_zone == "Europe/London"
    assert AuditEvent.objects.filter(action="organisation.create",
                                     object_id=str(programme.pk)).exists()


def test_it_refuses_a_duplicate_slug_an_unknown_kind_and_an_unknown_zone(programme):
    with pytest.raises(CommandError, match="already exists"):
        run("organisation_create", "--name", "Prevention Programme", "--kind", "research")
    with pytest.raises(CommandError, match="choose one of: programme_owner, partner_platform"):
        run("organisation_create", "--name", "X", "--kind", "bank")
    with pytest.raises(CommandError, match="Unknown time zone"):
        run("organisation_create", "--name", "Y", "--kind", "research", "--time-zone", "Mars/A")
    assert Organisation.objects.count() == 1


def test_a_partnership_and_a_key_let_the_partner_call_the_api(programme):
    run("organisation_create", "--name", "Search Platform", "--slug", "search",
        "--kind", "partner_platform")
    out, _ = run("partnership_set", "--programme", programme.slug, "--partner", "search",
                 "--trigger", "search_blocked_term", "--trigger", "repeat_visit")
    assert "search is a partner of prevention-programme" in out
    partnership = Partnership.objects.get(programme=programme)
    assert partnership.triggers == ["repeat_visit", "search_blocked_term"]
    secret, err = run("api_key_create", "--organisation", "search", "--name", "platform",
                      "--scope", "help_resources:read", "--scope", "interventions:write")
    secret = secret.strip()
    assert secret.startswith("ork_") and "Shown once" in err
    key = ApiKey.objects.get(organisation__slug="search")
    assert key.scopes == ["help_resources:read", "interventions:write"]
    assert secret not in key.secret_hash
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {secret}")
    assert client.get("/api/v1/help-resources/?country=GB").status_code == 200
    assert client.get("/api/v1/campaigns/").status_code == 403  # no campaigns:read scope
    run("api_key_revoke", "--prefix", key.prefix)
    assert client.get("/api/v1/help-resources/?country=GB").status_code == 401


def test_partnership_and_key_commands_name_what_is_wrong(programme):
    with pytest.raises(CommandError, match="No organisation with slug 'nobody'"):
        run("partnership_set", "--programme", programme.slug, "--partner", "nobody",
            "--trigger", "search_blocked_term")
    with pytest.raises(CommandError, match="own partner"):
        run("partnership_set", "--programme", programme.slug, "--partner", programme.slug,
            "--trigger", "search_blocked_term")
    run("organisation_create", "--name", "P", "--slug", "p", "--kind", "partner_platform")
    with pytest.raises(CommandError, match="snake_case category labels"):
        run("partnership_set", "--programme", programme.slug, "--partner", "p",
            "--trigger", "Free text with spaces")
    with pytest.raises(CommandError, match="Unknown scope 'everything'; choose one of"):
        run("api_key_create", "--organisation", "p", "--name", "k", "--scope", "everything")
    with pytest.raises(CommandError, match="at least 1"):
        run("api_key_create", "--organisation", "p", "--name", "k",
            "--scope", "outcomes:write", "--expires-in-days", "0")
    with pytest.raises(CommandError, match="No API key with prefix"):
        run("api_key_revoke", "--prefix", "deadbeef")
    assert not Partnership.objects.exists() and not ApiKey.objects.exists()


def test_membership_gives_a_user_a_scoped_admin_role(programme):
    with pytest.raises(CommandError, match="add --create-user"):
        run("membership_set", "--organisation", programme.slug, "--username", "sam",
            "--role", "manager")
    out, _ = run("membership_set", "--organisation", programme.slug, "--username", "sam",
                 "--role", "manager", "--create-user")
    assert "sam is manager of prevention-programme" in out
    assert "changepassword sam" in out
    user = get_user_model().objects.get(username="sam")
    assert user.is_staff and not user.has_usable_password()
    assert Membership.objects.get(user=user).role == "manager"
    with pytest.raises(CommandError, match="Unknown role 'boss'"):
        run("membership_set", "--organisation", programme.slug, "--username", "sam",
            "--role", "boss")


def test_the_organisation_list_shows_slugs_and_partnerships(programme):
    run("organisation_create", "--name", "Search", "--kind", "partner_platform")
    run("partnership_set", "--programme", programme.slug, "--partner", "search",
        "--trigger", "search_blocked_term")
    out, _ = run("organisation_list")
    assert "prevention-programme\tprogramme_owner" in out
    assert "partnership\tprevention-programme ← search\tsearch_blocked_term" in out
