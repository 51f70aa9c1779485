"""A programme running a campaign that signposts an open chat helpline hosted here."""

from __future__ import annotations

from dataclasses import dataclass

from helpline.demo import helpline_seed
from helpline.models import Counsellor, Helpline
from tests.interventions import factories as interventions


@dataclass
class HelplineWorld:
    world: interventions.World
    helpline: Helpline
    counsellor: Counsellor
    colleague: Counsellor
    supervisor: Counsellor

    def online(self, *counsellors: Counsellor) -> None:
        from helpline.services import counsellor_presence_set

        for counsellor in counsellors or (self.counsellor,):
            counsellor_presence_set(counsellor=counsellor, presence="online")


def helpline_world(*, slug: str = "test-chat", base_url: str | None = None, online: bool = True,
                   **fields: object) -> HelplineWorld:
    world = interventions.world()
    helpline = helpline_seed(programme=world.programme, slug=slug, base_url=base_url,
                             username_prefix=f"{slug}-", **fields)
    counsellor, colleague, supervisor = list(helpline.counsellors.order_by("pk"))
    result = HelplineWorld(world=world, helpline=helpline, counsellor=counsellor,
                           colleague=colleague, supervisor=supervisor)
    if online:
        result.online(counsellor)
    return result
