"""Wire every app's `seed_demo` into one story: directory → segments → campaign → sends →
live interventions → evaluation (and the helpline totals its time series reads) → learning
→ the demo chat helpline.
Each step yields one line for the newcomer."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from campaigns.demo import seed_demo as seed_campaign
from delivery.demo import seed_demo as seed_delivery
from directory.demo import seed_demo as seed_directory
from evaluation.demo import seed_demo as seed_evaluation
from helpline.demo import seed_demo_helpline
from interventions.demo import seed_demo as seed_interventions
from interventions.demo import simulate_helpline_totals
from learning.demo import seed_demo_learning
from segments.demo import seed_demo as seed_segments


def seed_capabilities(demo: dict[str, Any]) -> Iterator[str]:
    programme, partner = demo["programme"], demo["partner"]
    report = seed_directory(organisation=programme)
    yield (f"Directory: {report.help_resources.created + report.help_resources.updated} "
           f"changed, {report.confirmed} confirmed for the demo (a real programme confirms each "
           "record itself)")
    audience = seed_segments(organisation=programme)
    yield (f"Segments: {len(audience['segments'])} segments, "
           f"{audience['recipients_created']} new demo recipients (@example.org)")
    yield f"Delivery: {seed_delivery(organisation=programme)}"
    campaign = seed_campaign(organisation=programme, partner=partner, reviewer=demo["reviewer"],
                             manager=demo["manager"], segments=audience["segments"])
    yield f"Campaign: '{campaign}' is {campaign.status}; its email step sends within a minute"
    page = seed_interventions(programme=programme, partner=partner, campaign=campaign)
    yield f"Interventions: demo partner page at {page}"
    yield seed_evaluation(campaign=campaign)
    if days := simulate_helpline_totals(campaign=campaign):
        yield f"Interventions: {days} days of simulated helpline totals for the time series"
    yield seed_demo_learning(programme=programme, manager=demo["manager"],
                             reviewer=demo["reviewer"])
    yield _seed_helpline(programme)


def _seed_helpline(programme: Any) -> str:
    chat = seed_demo_helpline(programme=programme)
    return (f"Helpline: the person's chat page {chat['person_page']} and the counsellor "
            f"console {chat['console']} ({chat['counsellor_login']} / {chat['password']})")
