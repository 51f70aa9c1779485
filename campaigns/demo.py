"""Demo: an approved, running campaign "Stop It Now signposting — UK".

Real prevention messaging only: what the law says, that confidential help exists, and how to
reach Stop It Now. Two variants (legal deterrence, help/therapeutic) and an active comparator
(a neutral message) get 30% each, and a 10% holdout sees nothing (still recorded as exposed).
`seed_demo` is idempotent: run twice, it returns the same campaign.
"""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from django.db import transaction
from django.utils import timezone

from campaigns import authoring, lifecycle
from campaigns.models import Campaign, CampaignStatus, Message
from organisations.models import Organisation
from organisations.services import Actor, partnership_set

DEMO_NAME = "Stop It Now signposting — UK"

LEGAL_EMAIL = (
    "<p>Viewing, making or sharing sexual images of anyone under 18 is a crime in the UK."
    "{% if legal_notice.statutes %} {{ legal_notice.statutes.0.name }} "
    "{{ legal_notice.statutes.0.section }}: {{ legal_notice.statutes.0.summary }}"
    "{% endif %}</p>"
    "<p>If you are worried about your own thoughts or behaviour, you can stop, and you do not "
    "have to do it alone. Stop It Now offers confidential, anonymous help.</p>"
    '<p><a href="{{ help_link }}">Get confidential help</a></p>'
    "<p>Quote code {{ referral_code }} if you call.</p>"
    '<p><small><a href="{{ opt_out_link }}">Stop these messages</a></small></p>'
)
HELP_EMAIL = (
    "<p>Worried about your sexual thoughts or behaviour towards children? Help is available, "
    "and it is confidential.</p>"
    "<p>Trained advisors at Stop It Now have helped many people take control and stay safe."
    "</p>"
    "{% for r in help_resources %}<p>{{ r.name }}{% if r.phone %}: {{ r.phone }}{% endif %}"
    '{% if r.open_now %} (open now){% endif %} — <a href="{{ r.url }}">find out more</a></p>'
    "{% endfor %}"
    "<p>Quote code {{ referral_code }} if you call.</p>"
    '<p><small><a href="{{ opt_out_link }}">Stop these messages</a></small></p>'
)
NEUTRAL_EMAIL = (
    "<p>Information about confidential support services in your area is available.</p>"
    '<p><a href="{{ help_link }}">Support services</a></p>'
    '<p><small><a href="{{ opt_out_link }}">Stop these messages</a></small></p>'
)
LEGAL_PLATFORM = (
    "Sexual images of under-18s are illegal. Viewing them is a crime. "
    "Confidential help to stop is available from Stop It Now: {{ help_link }}"
)
HELP_PLATFORM = (
    "Worried about your thoughts? You can get confidential, anonymous help from Stop It Now. "
    "{% if help_resources %}{{ help_resources.0.name }}{% if help_resources.0.open_now %}"
    " is open now{% endif %}.{% endif %} {{ help_link }}"
)
NEUTRAL_PLATFORM = "Support services are available: {{ help_link }}"

MESSAGES = [
    # (name, channel, framing, polarity, subject, body)
    ("UK legal deterrence (email)", "email", "legal_deterrence", "warning",
     "This is illegal, and help is available", LEGAL_EMAIL),
    ("UK help and support (email)", "email", "help_therapeutic", "supportive",
     "Confidential help is available", HELP_EMAIL),
    ("UK neutral control (email)", "email", "neutral_control", "neutral",
     "Support services", NEUTRAL_EMAIL),
    ("UK legal deterrence (on platform)", "on_platform", "legal_deterrence", "warning",
     "This is illegal", LEGAL_PLATFORM),
    ("UK help and support (on platform)", "on_platform", "help_therapeutic", "supportive",
     "Confidential help is available", HELP_PLATFORM),
    ("UK neutral control (on platform)", "on_platform", "neutral_control", "neutral",
     "Support services", NEUTRAL_PLATFORM),
]


def _message(organisation: Organisation, actor: Actor, spec: tuple) -> Message:
    name, channel, framing, polarity, subject, body = spec
    existing = Message.objects.filter(organisation=organisation, name=name).first()
    return existing or authoring.message_create(
        organisation=organisation, actor=actor, name=name, channel=channel, language="en",
        framing=framing, polarity=polarity, subject=subject, body=body)


@transaction.atomic
def seed_demo(*, organisation: Organisation, partner: Organisation, reviewer,  # type: ignore[no-untyped-def]
              manager, segments: list) -> Campaign:
    """The demo campaign, approved by `reviewer` (not the author `manager`) and running."""
    existing = Campaign.objects.filter(organisation=organisation, name=DEMO_NAME).first()
    if existing is not None:
        return existing
    author, signer = Actor(user=manager), Actor(user=reviewer)
    partnership_set(programme=organisation, partner=partner,
                    triggers=["search_blocked_term"], actor=author)
    now = timezone.now()
    campaign = authoring.campaign_create(
        organisation=organisation, actor=author, name=DEMO_NAME, priority=10,
        objective="Signpost people in the UK who are worried about their sexual thoughts or "
                  "behaviour towards children to confidential help from Stop It Now, and "
                  "compare a legal-deterrence framing with a help framing.",
        channels=["email", "on_platform"], countries=["GB"], languages=["en"],
        segments=segments, partners=[partner], frequency_cap_count=1, frequency_cap_days=7)
    legal_email, help_email, neutral_email, legal_platform, help_platform, neutral_platform = [
        _message(organisation, author, spec) for spec in MESSAGES]
    authoring.arm_save(campaign=campaign, actor=author, name="legal deterrence",
                      weight=Decimal(30), messages=[legal_email, legal_platform])
    authoring.arm_save(campaign=campaign, actor=author, name="help and support",
                      weight=Decimal(30), messages=[help_email, help_platform])
    authoring.arm_save(campaign=campaign, actor=author, name="neutral comparator",
                      kind="comparator", weight=Decimal(30),
                      messages=[neutral_email, neutral_platform])
    authoring.arm_save(campaign=campaign, actor=author, name="holdout", kind="holdout",
                      weight=Decimal(10))
    authoring.flight_create(campaign=campaign, actor=author, starts_at=now - timedelta(hours=1),
                           ends_at=now + timedelta(days=90))
    authoring.schedule_save(campaign=campaign, actor=author, kind="one_off", channel="email",
                           send_at=now + timedelta(minutes=1), now=now)
    lifecycle.campaign_submit(campaign=campaign, actor=author)
    lifecycle.campaign_approve(campaign=campaign, actor=signer)
    lifecycle.campaign_schedule(campaign=campaign, actor=author, now=now)
    lifecycle.campaign_start(campaign=campaign, actor=Actor.system())
    campaign.refresh_from_db()
    if campaign.status != CampaignStatus.RUNNING:
        raise RuntimeError(f"demo campaign ended up {campaign.status}")
    return campaign
