"""Seed an open helpline: a chat entry in the programme's directory hosted here, a helpline
organisation partnered with the programme, and counsellor logins. Used by `make demo` and tests.
"""

from __future__ import annotations

from datetime import time
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from directory.models import HelpResource, OpeningHours
from helpline.models import CounsellorRole, Helpline
from helpline.services import counsellor_add, helpline_create
from organisations.models import Membership, Organisation, Partnership
from organisations.services import Actor

DEMO_PASSWORD = "demo-counsellor-password"  # noqa: S105 - the demo's documented login
POLICY = ("If a child may be at identifiable risk, flag the conversation. A supervisor will "
          "acknowledge it within the time shown. Nothing is shared outside the organisation "
          "automatically; follow the organisation's safeguarding procedure.")
WELCOME = ("You are talking to a trained counsellor. You do not have to give your name. "
           "Use the Leave quickly button at any time.")


STAFF = (("counsellor", "Sam", CounsellorRole.COUNSELLOR),
         ("counsellor-2", "Alex", CounsellorRole.COUNSELLOR),
         ("supervisor", "Jo", CounsellorRole.SUPERVISOR))


def chat_url(slug: str, base_url: str | None = None) -> str:
    base = (base_url or settings.PUBLIC_BASE_URL).rstrip("/")
    return f"{base}{reverse('helpline:chat', args=[slug])}"


@transaction.atomic
def helpline_seed(*, programme: Organisation, slug: str = "demo-chat",
                  base_url: str | None = None, always_open: bool = True,
                  username_prefix: str = "demo-", **fields: Any) -> Helpline:
    existing = Helpline.objects.filter(slug=slug).first()
    if existing is not None:
        return existing
    organisation, _ = Organisation.objects.get_or_create(
        slug=f"{slug}-service", defaults={"name": "Demo anonymous chat service",
                                          "kind": "helpline"})
    Partnership.objects.get_or_create(programme=programme, partner=organisation)
    resource = HelpResource.objects.create(
        organisation=programme, slug=slug, name="Anonymous chat (hosted here)", kind="chat",
        description="Talk to a trained counsellor now. Anonymous and confidential.",
        audiences=["at_risk_self", "offender", "concerned_family_or_friend", "survivor",
                   "professional"], countries=["GB", "IE"], languages=["en"],
        url=chat_url(slug, base_url), time_zone="Europe/London", anonymous=True,
        source_status="verified", confirmed_at=timezone.now(),
        structured_hours_note="demo only, not confirmed")
    if always_open:
        for weekday in range(1, 8):
            OpeningHours.objects.create(resource=resource, weekday=weekday, opens=time(0, 0),
                                        closes=time(0, 0))
    helpline = helpline_create(organisation=organisation, resource=resource, slug=slug,
                               name="Demo anonymous chat", actor=Actor.system(),
                               safeguarding_policy=POLICY, welcome_text=WELCOME, **fields)
    for username, display_name, role in STAFF:
        user = _user(f"{username_prefix}{username}")
        Membership.objects.get_or_create(user=user, organisation=organisation,
                                         defaults={"role": "viewer"})
        counsellor_add(helpline=helpline, user=user, display_name=display_name, role=role,
                       actor=Actor.system())
    return helpline


def _user(username: str) -> Any:
    # Staff: counsellors sign in through the site's login page (the admin's, LOGIN_URL); as
    # members of the helpline organisation with the viewer role they can change nothing there.
    user, created = get_user_model().objects.get_or_create(username=username,
                                                           defaults={"is_staff": True})
    if created:
        user.set_password(DEMO_PASSWORD)
        user.save(update_fields=["password"])
    return user


def seed_demo_helpline(*, programme: Organisation | None = None) -> dict[str, str]:
    """For the demo runner: an always-open helpline; returns the logins and URLs to open."""
    programme = programme or Organisation.objects.filter(kind="programme_owner").order_by(
        "pk").first()
    if programme is None:
        raise RuntimeError("seed the demo programme first (manage.py demo_seed)")
    helpline = helpline_seed(programme=programme)
    base = settings.PUBLIC_BASE_URL.rstrip("/")
    return {"person_page": chat_url(helpline.slug),
            "console": f"{base}{reverse('helpline:console')}",
            "counsellor_login": "demo-counsellor", "second_counsellor_login": "demo-counsellor-2",
            "supervisor_login": "demo-supervisor", "password": DEMO_PASSWORD}
