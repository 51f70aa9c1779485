"""The launch gate: everything that stops a campaign from going live, each problem named.

Asked when a campaign is scheduled (`launch_problems`) and when it resumes
(`help_resource_problems`: help resources may have gone stale meanwhile); see
campaigns/lifecycle.py.
"""

from __future__ import annotations

from datetime import datetime

from django.utils import timezone

from campaigns.content import campaign_content_intact
from campaigns.models import ArmKind, AssignmentDesign, Campaign, CampaignStatus
from campaigns.rendering import message_validate
from campaigns.schedules import schedule_problems
from campaigns.selectors import flights_ended
from core.errors import InvalidInput
from directory.selectors import Signpost, help_resources_for

S = CampaignStatus


def launch_problems(campaign: Campaign, *, at: datetime | None = None) -> list[str]:
    """Everything that stops this campaign from going live, each problem named (empty: ok)."""
    at = at or timezone.now()
    problems: list[str] = []
    if campaign.status in (S.APPROVED, S.SCHEDULED) and not campaign_content_intact(campaign):
        problems.append("The content changed after approval: submit it for review again.")
    problems += audience_problems(campaign)
    problems += arm_problems(campaign)
    problems += message_problems(campaign)
    problems += flight_problems(campaign, at=at)
    for schedule in campaign.schedules.all():
        problems += [f"Schedule {schedule.pk}: {p}." for p in schedule_problems(schedule, now=at)]
        if schedule.channel not in campaign.channels:
            problems.append(f"Schedule {schedule.pk} sends by {schedule.channel or 'no channel'}"
                            ", which the campaign does not use.")
    problems += namespace_problems(campaign)
    problems += help_resource_problems(campaign, at=at)
    return problems


def audience_problems(campaign: Campaign) -> list[str]:
    problems = []
    if not campaign.channels:
        problems.append("No channel is chosen.")
    if not campaign.countries:
        problems.append("No audience country is set, so no help resources can be chosen.")
    if not campaign.languages:
        problems.append("No audience language is set.")
    return problems


def arm_problems(campaign: Campaign) -> list[str]:
    arms = list(campaign.arms.all())
    if not arms:
        return ["No evaluation arms are defined: add at least one variant and a comparator or "
                "holdout."]
    problems = []
    showing = [a for a in arms if a.kind != ArmKind.HOLDOUT and a.weight > 0]
    if not showing:
        problems.append("No arm shows a message: add a variant or comparator with a weight.")
    if len(arms) < 2 and campaign.design == AssignmentDesign.PER_PERSON:
        problems.append(f"Only one arm ('{arms[0].name}') is defined: evaluation needs a "
                        "comparator, a second variant or a holdout.")
    return problems


def message_problems(campaign: Campaign) -> list[str]:
    """Every showing arm needs a message in each channel and each audience language."""
    problems = []
    for arm in campaign.arms.prefetch_related("messages"):
        if arm.kind == ArmKind.HOLDOUT:
            continue
        messages = list(arm.messages.all())
        have = {(m.channel, m.language) for m in messages}
        for channel in campaign.channels:
            for language in campaign.languages:
                if (channel, language) not in have:
                    problems.append(f"Arm '{arm.name}' has no {channel} message in "
                                    f"'{language}', a language its audience needs.")
        for message in messages:
            problems += [f"Message '{message.name}' {p}." for p in message_validate(message)]
    return problems


def flight_problems(campaign: Campaign, *, at: datetime) -> list[str]:
    flights = list(campaign.flights.all())
    if not flights:
        return ["No flight (active date range) is defined."]
    if flights_ended(((f.starts_at, f.ends_at) for f in flights), at):
        return ["Every flight has already ended."]
    return []


def namespace_problems(campaign: Campaign) -> list[str]:
    try:
        namespace_validate(campaign)
    except InvalidInput as error:
        return [error.message]
    return []


def namespace_validate(campaign: Campaign) -> None:
    start, share = campaign.namespace_offset, campaign.namespace_share
    if share <= 0:
        raise InvalidInput("The namespace share must be above 0.", field="namespace_share")
    if start + share > 1:
        raise InvalidInput(
            f"The namespace slice [{start}, {start + share}) goes past 1: lower the offset or "
            "the share.", field="namespace_share")
    if not campaign.assignment_namespace:
        return
    others = (Campaign.objects.filter(organisation=campaign.organisation,
                                      assignment_namespace=campaign.assignment_namespace)
              .exclude(pk=campaign.pk).exclude(status__in=[S.CANCELLED, S.COMPLETED]))
    for other in others:
        if start < other.namespace_offset + other.namespace_share \
                and other.namespace_offset < start + share:
            raise InvalidInput(
                f"The namespace slice overlaps campaign '{other.name}' "
                f"([{other.namespace_offset}, {other.namespace_offset + other.namespace_share}))"
                ": people could be in both.", field="namespace_offset")


def help_resource_problems(campaign: Campaign, *, at: datetime) -> list[str]:
    """Unconfirmed or stale help resources the campaign would signpost, and gaps."""
    stages = sorted({s.stage for s in campaign.segments.all() if s.stage}) or [None]
    problems: dict[str, None] = {}  # ordered and de-duplicated
    for country in campaign.countries:
        for language in campaign.languages:
            for stage in stages:
                resources = help_resources_for(
                    organisation=campaign.organisation, country=country, language=language,
                    audience=stage, at=at, include_unconfirmed=True)
                for resource in resources:
                    problem = _resource_problem(resource)
                    if problem:
                        problems[problem] = None
                if not any(_resource_problem(r) is None for r in resources):
                    who = f" for the {stage} audience" if stage else ""
                    problems[f"No confirmed help resource in {country} in '{language}'{who}: "
                             "the campaign would signpost nothing."] = None
    return list(problems)


def _resource_problem(resource: Signpost) -> str | None:
    verification = resource.verification
    if verification == "confirmed":
        return None
    label = f"Help resource '{resource.name}' ({resource.slug})"
    if verification == "stale":
        confirmed = resource.confirmed_at
        when = f" (last confirmed {confirmed:%Y-%m-%d})" if confirmed else ""
        return f"{label} is stale{when}: re-confirm its contact details in the directory."
    return f"{label} is unconfirmed: confirm its contact details in the directory."
