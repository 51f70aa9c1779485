"""The one place interventions reaches into campaigns, segments and directory.

Those apps were built in parallel with this one; every call into them goes through here, so a
change of their signatures is a change in this file only:

- campaigns.selectors: running_campaigns_for_partner (prefetches arms+messages, segments and
  flights: the snapshot then answers requests without queries), messages_for_arm (works on
  the prefetched messages);
- campaigns.assignment.assign_arm, campaigns.rendering.render_message: the shared functions;
- segments.targeting.rule_parse: parses with the organisation's custom attributes;
- directory.selectors.help_resources_for / legal_notice_for: the directory's contract.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from campaigns import selectors as campaign_selectors
from campaigns.assignment import assign_arm as _assign_arm
from campaigns.models import Arm, Campaign, Message
from campaigns.rendering import (
    RenderContext,
    RenderedMessage,
    legal_notice_as_context,
    render_message,
    resource_as_context,
)
from core.pseudonyms import Pseudonym
from organisations.models import Organisation

__all__ = [
    "RenderContext",
    "RenderedMessage",
    "assign_arm",
    "global_help_resources",
    "help_resource_for_link",
    "help_resources_for",
    "legal_notice_as_context",
    "legal_notice_for",
    "message_for_arm",
    "render_message",
    "resource_as_context",
    "running_campaigns_for_partner",
    "segment_rule",
]


def assign_arm(*, campaign: Campaign, subject: Pseudonym, at: datetime) -> Arm | None:
    return _assign_arm(campaign=campaign, subject=subject, at=at)


def running_campaigns_for_partner(*, partner: Organisation, at: datetime) -> list[Campaign]:
    """Running campaigns in flight at `at` that enrol `partner`, highest priority first.

    Arms with their messages, segments, flights and the organisation come prefetched, so the
    intervention hot path runs on this list without further queries.
    """
    return campaign_selectors.running_campaigns_for_partner(partner=partner, at=at)


def message_for_arm(*, arm: Arm, channel: str, language_chain: Iterable[str]) -> Message | None:
    """The arm's message on `channel` in the first language of the chain that has one."""
    return campaign_selectors.messages_for_arm(arm=arm, channel=channel,
                                               language_chain=list(language_chain))


def segment_rule(segment: Any):  # type: ignore[no-untyped-def]
    """Parse a segment's rule with its organisation's attributes (raises RuleError)."""
    from segments.targeting import rule_parse

    return rule_parse(segment.rule, organisation=segment.organisation)


def help_resources_for(*, organisation: Organisation, country: str, language: str,
                       audience: str | None, at: datetime) -> list[Any]:
    from directory.selectors import help_resources_for as selector

    return list(selector(organisation=organisation, country=country, language=language,
                         audience=audience, at=at))


def legal_notice_for(*, organisation: Organisation, jurisdiction: str) -> Any:
    from directory.selectors import legal_notice_for as selector

    return selector(organisation=organisation, jurisdiction=jurisdiction)


def help_resource_for_link(*, organisation: Organisation, resource_id: int,
                           at: datetime) -> Any | None:
    """The resource a signed link points at, if it is still confirmed and has a URL.

    The redirect target always comes from here (the directory), never from the link itself.
    """
    from directory.models import HelpResource, VerificationStatus
    from directory.selectors import stale_windows
    from organisations.selectors import programmes_visible_to

    resource = (HelpResource.objects.displayable()
                .filter(pk=resource_id, organisation_id__in=programmes_visible_to(organisation))
                .exclude(url__isnull=True).exclude(url="").first())
    if resource is None:
        return None
    window = stale_windows([resource.organisation_id])[resource.organisation_id]
    status = resource.verification_status(now=at, stale_after_days=window)
    return resource if status == VerificationStatus.CONFIRMED else None


def global_help_resources(*, at: datetime, limit: int = 8) -> list[Any]:
    """Confirmed online services open worldwide (countries ["*"]), one per slug.

    For the error page of a link we cannot trust: its programme is unknown, so only services
    anyone anywhere can use are listed, by name and web address (no phone numbers).
    """
    from directory.models import HelpResource, VerificationStatus
    from directory.selectors import stale_windows

    candidates = list(HelpResource.objects.displayable().exclude(url__isnull=True)
                      .exclude(url="").filter(confirmed_at__isnull=False)
                      .order_by("organisation_id", "name")[:500])
    windows = stale_windows({r.organisation_id for r in candidates})
    chosen: dict[str, Any] = {}
    for resource in candidates:
        if resource.countries != ["*"] or resource.slug in chosen:
            continue
        status = resource.verification_status(
            now=at, stale_after_days=windows[resource.organisation_id])
        if status == VerificationStatus.CONFIRMED:
            chosen[resource.slug] = resource
    return sorted(chosen.values(), key=lambda r: r.name.casefold())[:limit]
