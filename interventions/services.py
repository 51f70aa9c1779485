"""Live interventions, help-link clicks and outcome reports.

Writes to the evidence log go through evaluation.services (exposures: one statement each) and the
Outcome unique constraint (reported_by, idempotency_key), so a retried report never counts
twice. Single exposures and outcomes get no audit row of their own (the evidence log is the
record and it is written on the hot path); batch uploads and aggregate reports do.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.utils import timezone

from campaigns.assignment import assign_arm
from campaigns.models import Arm, ArmKind, Campaign
from campaigns.rendering import (
    RenderContext,
    RenderError,
    legal_notice_as_context,
    render_message,
)
from core.errors import InvalidInput
from core.locales import language_chain
from core.memo import FOREVER, Memo
from core.pseudonyms import Pseudonym, pseudonymise
from core.vocabulary import Channel, OutcomeKind
from directory.selectors import Signpost, help_resources_for, legal_notice_for
from evaluation.exposure_log import exposure_cap_for
from evaluation.models import Exposure, ExposureSource
from evaluation.services import (
    ExposureCap,
    exposure_insert_unless_capped,
    exposure_row,
    outcome_record,
)
from interventions.links import LinkTarget, link_destination, link_url
from interventions.locales import normalise_country, normalise_language
from interventions.sanitise import clean_html
from interventions.selectors import (
    CampaignEntry,
    partner_snapshot,
    snapshot_seconds,
)
from organisations.models import Organisation

logger = logging.getLogger(__name__)

class Reason:
    SHOWN = "shown"
    HOLDOUT = "holdout"
    CAPPED = "capped"
    NO_MATCH = "no_match"
    NO_MESSAGE = "no_message"


@dataclass(frozen=True)
class InterventionContext:
    """What a partner tells us. `session_id` is raw: it is pseudonymised first and dropped."""

    trigger: str
    country: str
    language: str
    session_id: str = field(repr=False)
    platform: str = ""
    attributes: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class HelpLink:
    id: int
    name: str
    organisation: str
    kind: str
    description: str
    url: str  # our signed /go/ link
    phone: str | None  # only while the line is open
    open_now: bool | None
    language_fallback: bool


@dataclass(frozen=True)
class ShownMessage:
    title: str
    text: str
    html: str
    language: str


@dataclass(frozen=True)
class InterventionResult:
    show: bool
    reason: str
    intervention_id: uuid.UUID | None = None
    referral_code: str = ""
    message: ShownMessage | None = None
    help_resources: tuple[HelpLink, ...] = ()
    legal_notice: dict | None = None


# --- the live intervention ---------------------------------------------------------------------

def intervention_request(*, partner: Organisation, context: InterventionContext,
                         at: datetime | None = None) -> InterventionResult:
    """Decide what a partner shows a person who triggered one of its rules, and record it.

    The first matching running campaign (highest priority first) decides. A capped person
    gets reason "capped" and no new exposure; a holdout assignment is recorded and answered
    with show=false. The exposure is committed before this returns.
    """
    at = at or timezone.now()
    subject = pseudonymise(context.session_id, purpose=f"session:{partner.pk}", at=at)
    country, language = _validated_locale(context)
    snapshot = partner_snapshot(partner=partner, at=at)
    if context.trigger not in snapshot.triggers:
        raise InvalidInput("Unknown trigger for this partner: use one of the categories the "
                           "programme defined for you.", field="trigger")
    facts = _rule_context(context, country=country, language=language)
    for entry in snapshot.campaigns:
        matched, segment = _campaign_matches(entry, facts, country=country, at=at)
        if not matched:
            continue
        arm = assign_arm(campaign=entry.campaign, subject=subject, at=at, arms=entry.arms)
        if arm is not None:
            return _answer(partner=partner, entry=entry, arm=arm, segment=segment,
                           subject=subject, context=context, country=country,
                           language=language, at=at)
    return InterventionResult(show=False, reason=Reason.NO_MATCH)


def _validated_locale(context: InterventionContext) -> tuple[str, str]:
    country = normalise_country(context.country or "")
    if country is None:
        raise InvalidInput("Use an ISO 3166-1 alpha-2 country code such as GB.", field="country")
    language = normalise_language(context.language or "")
    if language is None:
        raise InvalidInput("Use an ISO 639-1 language code such as en (or en-GB).",
                           field="language")
    return country, language


def _rule_context(context: InterventionContext, *, country: str, language: str) -> dict:
    # Custom attributes first so they can never override the built-in fields.
    facts: dict[str, Any] = dict(context.attributes or {})
    facts.update(country=country, language=language.split("-")[0], platform=context.platform
                 or None, trigger=context.trigger, channel=Channel.ON_PLATFORM)
    return facts


def _campaign_matches(entry: CampaignEntry, facts: dict, *, country: str,
                      at: datetime) -> tuple[bool, Any]:
    campaign = entry.campaign
    if not entry.in_flight(at):
        return False, None
    if campaign.countries and country not in campaign.countries:
        return False, None
    if entry.targets_everyone:
        return True, None
    for segment_entry in entry.segments:
        if segment_entry.rule.matches(facts, now=at):
            return True, segment_entry.segment
    return False, None


def _answer(*, partner: Organisation, entry: CampaignEntry, arm: Arm, segment: Any,
            subject: Pseudonym, context: InterventionContext, country: str, language: str,
            at: datetime) -> InterventionResult:
    campaign = entry.campaign
    capped = InterventionResult(show=False, reason=Reason.CAPPED,
                                referral_code=campaign.referral_code)
    record = {"campaign": campaign, "arm": arm, "subject": subject, "segment": segment,
              "partner": partner, "country": country, "language": language,
              "trigger": context.trigger, "at": at, "cap": exposure_cap_for(campaign, at)}
    if arm.kind == ArmKind.HOLDOUT:
        exposure_id = uuid.uuid4()
        if not _exposure_record(**record, exposure_id=exposure_id, message=None):
            return capped
        return InterventionResult(show=False, reason=Reason.HOLDOUT, intervention_id=exposure_id,
                                  referral_code=campaign.referral_code)
    chain = language_chain(language, campaign.languages or ())
    message = entry.message_for(arm=arm, channel=Channel.ON_PLATFORM, language_chain=tuple(chain))
    if message is None:
        logger.warning("campaign %s arm %s has no on-platform message for the language chain",
                       campaign.pk, arm.pk)
        return InterventionResult(show=False, reason=Reason.NO_MESSAGE,
                                  referral_code=campaign.referral_code)
    stage = getattr(segment, "stage", None)
    resources = _help_resources(campaign=campaign, country=country, language=language,
                                stage=stage, at=at)
    notice = _legal_notice(campaign=campaign, country=country)
    # The id is chosen first so the links can be signed and the message rendered before the
    # write: a message that does not render then leaves no exposure behind, and the write is
    # the request's only statement (it commits before the answer is sent).
    exposure_id = uuid.uuid4()
    links = tuple(_help_link(r, exposure_id=exposure_id, at=at) for r in resources)
    try:
        shown = _render(campaign=campaign, message=message, links=links, notice=notice,
                        country=country)
    except RenderError:
        logger.exception("message %s of campaign %s does not render", message.pk, campaign.pk)
        return InterventionResult(show=False, reason=Reason.NO_MESSAGE,
                                  referral_code=campaign.referral_code)
    if not _exposure_record(**record, exposure_id=exposure_id, message=message):
        return capped
    return InterventionResult(show=True, reason=Reason.SHOWN, intervention_id=exposure_id,
                              referral_code=campaign.referral_code, message=shown,
                              help_resources=links, legal_notice=notice)


def _exposure_record(*, campaign: Campaign, arm: Arm, subject: Pseudonym, segment: Any,
                     partner: Organisation, country: str, language: str, trigger: str,
                     at: datetime, message: Any, exposure_id: uuid.UUID,
                     cap: ExposureCap | None) -> bool:
    row = exposure_row(campaign=campaign, arm=arm, subject=subject,
                       source=ExposureSource.INTERVENTION, channel=Channel.ON_PLATFORM,
                       country=country, language=language, segment=segment, partner=partner,
                       message=message, trigger=trigger, occurred_at=at, exposure_id=exposure_id)
    return exposure_insert_unless_capped(row, cap=cap)


# Directory reads are cached in-process for the snapshot time; open/closed is recomputed on
# every request from the cached opening hours, so a phone number is never shown after closing.
_directory_cache: Memo[Any] = Memo(max_entries=10_000)


def _cached(key: tuple, load: Any) -> Any:
    # The legal notice may be None (no notice for the country): boxed, so that is remembered.
    return _directory_cache.get(key, lambda: (load(),), seconds=snapshot_seconds())[0]


def directory_cache_clear() -> None:
    _directory_cache.clear()
    _rendered.clear()


def _help_resources(*, campaign: Campaign, country: str, language: str, stage: str | None,
                    at: datetime) -> list[_ResourceView]:
    base = language.split("-")[0]
    key = ("resources", campaign.organisation_id, country, base, stage)
    resources = _cached(key, lambda: help_resources_for(
        organisation=campaign.organisation, country=country, language=base, audience=stage,
        at=at))
    rank = {True: 0, None: 1, False: 2}
    opened = [(r, r.is_open(at)) for r in resources]
    opened.sort(key=lambda pair: (pair[0].language_fallback, rank[pair[1]], pair[0].worldwide))
    # A light view: the cached directory objects are shared between requests.
    return [_ResourceView(resource=resource, open_now=is_open) for resource, is_open in opened]


@dataclass(frozen=True)
class _ResourceView:
    resource: Signpost
    open_now: bool | None  # at this request's moment (the cached signpost's is older)


def _legal_notice(*, campaign: Campaign, country: str) -> dict | None:
    key = ("notice", campaign.organisation_id, country)
    return _cached(key, lambda: legal_notice_as_context(
        legal_notice_for(organisation=campaign.organisation, jurisdiction=country)))


def _help_link(view: _ResourceView, *, exposure_id: uuid.UUID, at: datetime) -> HelpLink:
    resource = view.resource
    has_url = bool(resource.url)
    return HelpLink(
        id=resource.pk, name=resource.name,
        organisation=resource.provider_organisation or "",
        kind=resource.kind, description=resource.description or "",
        url=link_url(exposure_id=exposure_id, resource_id=resource.pk) if has_url else "",
        phone=resource.phone if (resource.phone and view.open_now is True) else None,
        open_now=view.open_now,
        language_fallback=resource.language_fallback,
    )


# Rendered messages are cached with placeholder links and the real signed links are put in
# afterwards: the output is identical, and the template engine runs once per distinct context
# instead of once per request. A template that transforms a link (a filter on help_link) leaves
# a mangled placeholder behind; that is detected and such a message is rendered directly.
# The mark is an address (https://…), so the HTML cleaner keeps it as a link's href.
_LINK_MARK = "https://outreach.invalid/link-placeholder-"
# Keyed by the message's updated_at and everything else it is rendered from: FOREVER.
_rendered: Memo[tuple[str, str, str]] = Memo(max_entries=2048)


def _render(*, campaign: Campaign, message: Any, links: tuple[HelpLink, ...],
            notice: dict | None, country: str) -> ShownMessage:
    real = {f"{_LINK_MARK}{i}x": link.url for i, link in enumerate(links) if link.url}
    placeholder = {url: mark for mark, url in real.items()}
    key = (message.pk, message.updated_at, campaign.pk, campaign.referral_code,
           campaign.organisation.name, country, repr(notice),
           tuple((link.name, link.phone, bool(link.open_now), link.kind, bool(link.url))
                 for link in links))
    parts = _rendered.get(key, lambda: _render_parts(
        campaign=campaign, message=message, links=links, notice=notice, country=country,
        url_of=lambda link: placeholder.get(link.url, "")), seconds=FOREVER)
    assert parts is not None
    filled = [_fill(part, real) for part in parts]
    if any(_LINK_MARK in part.lower() for part in filled):
        filled = list(_render_parts(campaign=campaign, message=message, links=links,
                                    notice=notice, country=country, url_of=lambda link: link.url))
    return ShownMessage(title=filled[0], text=filled[1], html=filled[2],
                        language=message.language)


def _fill(text: str, real: dict[str, str]) -> str:
    for mark, url in real.items():
        text = text.replace(mark, url)
    return text


def _render_parts(*, campaign: Campaign, message: Any, links: tuple[HelpLink, ...],
                  notice: dict | None, country: str, url_of: Any) -> tuple[str, str, str]:
    items = [{"name": link.name, "phone": link.phone or "", "url": url_of(link),
              "open_now": bool(link.open_now), "kind": link.kind} for link in links]
    context = RenderContext(
        help_resources=items, legal_notice=notice,
        help_link=next((item["url"] for item in items if item["url"]), ""), opt_out_link="",
        referral_code=campaign.referral_code, organisation_name=campaign.organisation.name,
        language=message.language, country=country)
    rendered = render_message(message=message, context=context)
    return rendered.subject, rendered.text, clean_html(rendered.html)


# --- help-link clicks --------------------------------------------------------------------------

def help_click_record(*, target: LinkTarget, count: bool, at: datetime | None = None) -> str | None:
    """The directory URL the link points at, recording one help_click outcome if `count`.

    None when the exposure is gone or the resource is no longer a confirmed directory entry
    with a web address. Repeated clicks on one link count once (idempotency key
    click:<exposure>:<resource>); clicks on two resources of one warning count as two.
    """
    at = at or timezone.now()
    exposure = (Exposure.objects.select_related("organisation")
                .filter(pk=target.exposure_id).first())
    if exposure is None:
        return None
    url = link_destination(organisation=exposure.organisation, target=target, at=at)
    if url is None:
        return None
    if count:
        outcome_record(kind=OutcomeKind.HELP_CLICK, exposure=exposure, at=at,
                       idempotency_key=f"click:{exposure.pk}:{target.resource_id}")
    return url


def expired_link_resources(*, target: LinkTarget, at: datetime | None = None) -> list[Signpost]:
    """For an expired (but genuine) link: the help its warning signposted, read afresh."""
    at = at or timezone.now()
    exposure = (Exposure.objects.select_related("organisation", "segment")
                .filter(pk=target.exposure_id).first())
    if exposure is None or not exposure.country:
        return []
    return help_resources_for(
        organisation=exposure.organisation, country=exposure.country,
        language=(exposure.language or "en").split("-")[0],
        audience=getattr(exposure.segment, "stage", None), at=at)
