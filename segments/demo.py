"""Demo data for segments: two custom attributes, two segments and 50 consented recipients.

`seed_demo(organisation=...)` is idempotent: attributes and segments are created once, and the
recipients are upserted by reference, so running it again changes nothing but timestamps.
Recipient emails are @example.org addresses, which the local demo mail sink receives.
"""

from __future__ import annotations

from datetime import timedelta

from django.utils import timezone

from organisations.models import Organisation
from organisations.services import Actor
from segments.models import CustomAttribute, Segment
from segments.recipients import recipients_import
from segments.services import custom_attribute_create, segment_create

DEMO_RECIPIENTS = 50
ATTRIBUTES = [
    {"name": "release_date", "type": "date",
     "description": "Day the person left custody (probation clients)."},
    {"name": "risk_level", "type": "choice", "choices": ["low", "medium", "high"],
     "description": "Risk level assessed by the probation service."},
]
SEGMENTS = [
    {"name": "Adults in the UK and Ireland at risk", "stage": "at_risk",
     # `not age < 18` keeps live contexts that carry no age; `age >= 18` would drop them.
     "rule": 'country in ("GB", "IE") and not age < 18',
     "description": "People worried about their own thoughts, reached anonymously on partner "
                    "platforms in the UK and Ireland."},
    {"name": "Probation clients 7+ days after release", "stage": "offender",
     "rule": 'stage = "offender" and release_date <= -7d',
     "description": "Consented probation clients, from the seventh day after release: "
                    "signposting to confidential support."},
]


def seed_demo(*, organisation: Organisation) -> dict:
    """Create the demo attributes, segments and recipients; returns what exists afterwards."""
    actor = Actor.system()
    for attribute in ATTRIBUTES:
        if not CustomAttribute.objects.filter(organisation=organisation,
                                              name=attribute["name"]).exists():
            custom_attribute_create(organisation=organisation, actor=actor, **attribute)
    for segment in SEGMENTS:
        if not Segment.objects.filter(organisation=organisation, name=segment["name"]).exists():
            segment_create(organisation=organisation, actor=actor, **segment)
    report = recipients_import(organisation=organisation, rows=demo_rows(), actor=actor)
    return {
        "attributes": [a["name"] for a in ATTRIBUTES],
        "segments": list(Segment.objects.filter(organisation=organisation,
                                                name__in=[s["name"] for s in SEGMENTS])),
        "recipients_created": report.created,
        "recipients_updated": report.updated,
    }


def demo_rows() -> list[dict]:
    today = timezone.localdate()
    return [
        {
            "reference": f"DEMO-PROBATION-{number:03d}",
            "stage": "offender",
            "country": "GB" if number % 4 else "IE",
            "language": "en",
            "time_zone": "Europe/London" if number % 4 else "Europe/Dublin",
            "age": 19 + (number * 7) % 50,
            "email": f"client{number:02d}@example.org",
            "consent_basis": "consent",
            "consent_source": "probation induction (demo)",
            "release_date": (today - timedelta(days=number % 30)).isoformat(),
            "risk_level": ("low", "medium", "high")[number % 3],
        }
        for number in range(1, DEMO_RECIPIENTS + 1)
    ]
