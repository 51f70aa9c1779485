"""What a reviewer signs off: a campaign's content, its hash, and whether it is intact.

Approval stores the hash and a snapshot; campaigns/lifecycle.py compares them before approval
and the launch gate (campaigns/launch.py) before a campaign goes live.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from campaigns.models import Campaign, Message

CAMPAIGN_FIELDS = ("name", "objective", "priority", "channels", "countries", "languages",
                   "frequency_cap_count", "frequency_cap_days", "design", "assignment_namespace",
                   "namespace_offset", "namespace_share")
MESSAGE_FIELDS = ("name", "channel", "language", "framing", "polarity", "subject", "body")
SCHEDULE_FIELDS = ("kind", "channel", "send_at", "recurrence", "time_of_day",
                   "relative_attribute", "offset_days", "window_start", "window_end",
                   "window_weekdays")


def iso_or_none(value: Any) -> str | None:
    return value.isoformat() if value is not None else None


def message_content(message: Message) -> dict:
    return {"id": message.pk, **{f: getattr(message, f) for f in MESSAGE_FIELDS}}


def campaign_content(campaign: Campaign) -> dict:
    """Everything a reviewer signs off: settings, audience, flights, arms+messages, schedules."""
    data: dict[str, Any] = {f: getattr(campaign, f) for f in CAMPAIGN_FIELDS}
    data["namespace_offset"] = str(campaign.namespace_offset)
    data["namespace_share"] = str(campaign.namespace_share)
    data["segments"] = sorted(campaign.segments.values_list("pk", flat=True))
    data["partners"] = sorted(campaign.partners.values_list("pk", flat=True))
    data["flights"] = [[iso_or_none(f.starts_at), iso_or_none(f.ends_at)]
                       for f in campaign.flights.order_by("starts_at", "pk")]
    data["arms"] = [
        {"name": arm.name, "kind": arm.kind, "weight": str(arm.weight),
         "messages": [message_content(m) for m in arm.messages.order_by("pk")]}
        for arm in campaign.arms.order_by("pk")
    ]
    data["schedules"] = [
        {f: (iso_or_none(v) if hasattr(v, "isoformat") else v)
         for f, v in ((f, getattr(s, f)) for f in SCHEDULE_FIELDS)}
        for s in campaign.schedules.order_by("pk")
    ]
    return data


def campaign_content_hash(campaign: Campaign) -> str:
    encoded = json.dumps(campaign_content(campaign), sort_keys=True, default=str)
    return hashlib.sha256(encoded.encode()).hexdigest()


def campaign_content_intact(campaign: Campaign) -> bool:
    """True when the content is still what the reviewer approved."""
    return bool(campaign.content_hash) and campaign.content_hash == campaign_content_hash(campaign)
