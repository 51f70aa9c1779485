"""Seed the demo: organisations, logins, a partner key, the directory and every capability.

Idempotent: run it again and it updates what is there. It prints a fresh partner key each run
(the previous demo key is revoked), because keys are shown only once.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand
from django.db import transaction

from organisations.models import ApiKey, ApiScope, Organisation, OrganisationKind, Role
from organisations.services import (
    Actor,
    api_key_create,
    api_key_revoke,
    membership_set,
    organisation_create,
    partnership_set,
)
from outreach.demo import seed_capabilities

DEMO_PASSWORD = "outreach-demo"  # noqa: S105 - a published demo login, local only
DEMO_KEY_NAME = "Demo partner key"
PARTNER_SCOPES = [ApiScope.HELP_RESOURCES_READ, ApiScope.INTERVENTIONS_WRITE,
                  ApiScope.OUTCOMES_WRITE, ApiScope.REPORTS_READ]
DEMO_TRIGGERS = ["search_blocked_term", "upload_blocked"]


def organisation_ensure(*, slug: str, name: str, kind: str) -> Organisation:
    existing = Organisation.objects.filter(slug=slug).first()
    if existing:
        return existing
    return organisation_create(name=name, slug=slug, kind=kind, actor=Actor.system(),
                               time_zone="Europe/London")


def user_ensure(*, username: str, superuser: bool = False) -> Any:
    user, _ = get_user_model().objects.get_or_create(username=username)
    user.is_staff = True
    user.is_superuser = superuser
    user.set_password(DEMO_PASSWORD)
    user.save()
    return user


class Command(BaseCommand):
    help = "Create or refresh the demo organisations, logins, partner key and content."

    def handle(self, *args: Any, **options: Any) -> None:
        demo = self.seed()
        self.print_credentials(demo)

    def seed(self) -> dict[str, Any]:
        """Seed everything and return the demo's objects, with the new key's secret."""
        with transaction.atomic():
            demo = self.seed_tenancy()
        self.seed_apps(demo)
        return demo

    def seed_tenancy(self) -> dict[str, Any]:
        programme = organisation_ensure(slug="demo-programme", name="Demo Prevention Programme",
                                        kind=OrganisationKind.PROGRAMME_OWNER)
        partner = organisation_ensure(slug="demo-platform", name="Demo Search Platform",
                                      kind=OrganisationKind.PARTNER_PLATFORM)
        partnership_set(programme=programme, partner=partner, triggers=DEMO_TRIGGERS,
                        actor=Actor.system())
        admin = user_ensure(username="demo", superuser=True)
        manager = user_ensure(username="manager")
        reviewer = user_ensure(username="reviewer")
        for user, role in ((admin, Role.MANAGER), (manager, Role.MANAGER),
                           (reviewer, Role.REVIEWER)):
            membership_set(organisation=programme, user=user, role=role, actor=Actor.system())
        for old in ApiKey.objects.filter(organisation=partner, name=DEMO_KEY_NAME,
                                         revoked_at__isnull=True):
            api_key_revoke(api_key=old, actor=Actor.system())
        _, secret = api_key_create(organisation=partner, name=DEMO_KEY_NAME,
                                   scopes=PARTNER_SCOPES, actor=Actor.system())
        return {"programme": programme, "partner": partner, "admin": admin,
                "manager": manager, "reviewer": reviewer, "partner_key": secret}

    def seed_apps(self, demo: dict[str, Any]) -> None:
        for line in seed_capabilities(demo):
            self.stdout.write(line)

    def print_credentials(self, demo: dict[str, Any]) -> None:
        self.stdout.write(self.style.SUCCESS("\nDemo ready."))
        for line in credential_lines(key=demo["partner_key"]):
            self.stdout.write(line)


def credential_lines(*, key: str, base: str = "http://127.0.0.1:8000") -> list[str]:
    """What a newcomer needs to log in and call the API; tests follow every line."""
    return [
        f"  Admin login:       demo / {DEMO_PASSWORD}  (also manager, reviewer)",
        f"  Partner API key:   {key}",
        " " * 21 + "(shown once; `make demo` issues a new one each run)",
        f"  Try:  curl -H 'Authorization: Bearer {key}' "
        f"'{base}/api/v1/help-resources/?country=GB'",
    ]
