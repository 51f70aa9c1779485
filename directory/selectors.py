"""Reads for the directory, always from the caller's point of view.

`organisation` is the caller: a programme reads its own directory; a partner reads the
directories of the programmes it partners with (organisations.selectors.programmes_visible_to).
Where two visible directories hold the same slug or jurisdiction, the caller's own copy wins,
then the programme with the lowest id, so results never hold duplicates.

`help_resources_for` and `legal_notice_for` are used by campaign rendering and live
interventions: their signatures are a contract.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import Q, QuerySet
from django.utils import timezone

from core.errors import InvalidInput
from core.vocabulary import STAGE_RESOURCE_AUDIENCES
from directory.hours import Period
from directory.models import (
    DirectoryPolicy,
    HelpResource,
    LegalNotice,
    ResourceAudience,
    SourceStatus,
    VerificationStatus,
    open_at,
)
from organisations.models import Organisation
from organisations.selectors import programmes_visible_to

FALLBACK_LANGUAGE = "en"


# --- policy window ----------------------------------------------------------------------------

def stale_windows(organisation_ids: Iterable[int]) -> dict[int, int]:
    """Days after which a confirmation is stale, per organisation (policy or site default)."""
    ids = list(organisation_ids)
    windows = dict.fromkeys(ids, settings.HELP_RESOURCE_STALE_AFTER_DAYS)
    windows.update(DirectoryPolicy.objects.filter(organisation_id__in=ids)
                   .values_list("organisation_id", "stale_after_days"))
    return windows


def verification_q(status: str, *, now: datetime | None = None) -> Q:
    """A filter for one VerificationStatus across organisations with different windows."""
    now = now or timezone.now()
    not_displayable = Q(source_status=SourceStatus.EXISTENCE_ONLY) | (
        (Q(phone__isnull=True) | Q(phone="")) & (Q(url__isnull=True) | Q(url="")))
    if status == VerificationStatus.NOT_DISPLAYABLE:
        return not_displayable
    if status == VerificationStatus.NEEDS_VERIFICATION:
        return ~not_displayable & Q(confirmed_at__isnull=True)
    fresh = _fresh_q(now)
    if status == VerificationStatus.CONFIRMED:
        return ~not_displayable & fresh
    if status == VerificationStatus.STALE:
        return ~not_displayable & Q(confirmed_at__isnull=False) & ~fresh
    raise InvalidInput(f"Unknown verification status '{status}'.", field="verification_status")


def _fresh_q(now: datetime) -> Q:
    policies = dict(DirectoryPolicy.objects.values_list("organisation_id", "stale_after_days"))
    default_since = now - timedelta(days=settings.HELP_RESOURCE_STALE_AFTER_DAYS)
    fresh = ~Q(organisation_id__in=list(policies)) & Q(confirmed_at__gte=default_since)
    for organisation_id, days in policies.items():
        fresh |= Q(organisation_id=organisation_id,
                   confirmed_at__gte=now - timedelta(days=days))
    return fresh


# --- help resources ---------------------------------------------------------------------------

@dataclass(frozen=True)
class Signpost:
    """A help resource as signposted at one moment: our own snapshot, safe to share.

    The fields signposting reads, copied from the row together with its opening periods, and
    what the selector worked out: the verification state, whether the resource is listed as
    an English-language fallback, and whether it was open at the moment asked. `is_open(at)`
    answers for another moment from the copied periods, without a query. `resource` is the
    row itself, for the directory API's full output.
    """

    resource: HelpResource = field(repr=False, compare=False)
    pk: int
    slug: str
    name: str
    provider_organisation: str
    description: str
    kind: str
    phone: str | None
    url: str | None
    countries: tuple[str, ...]
    organisation_id: int
    confirmed_at: datetime | None
    time_zone: str
    periods: tuple[Period, ...]
    verification: str
    language_fallback: bool
    open_now: bool | None

    def is_open(self, at: datetime) -> bool | None:
        return open_at(self.periods, kind=self.kind, time_zone=self.time_zone, at=at)

    @property
    def worldwide(self) -> bool:
        return self.countries == ("*",)


def signpost_of(resource: HelpResource, *, verification: str, at: datetime,
                language_fallback: bool = False) -> Signpost:
    periods = tuple(resource.periods())
    return Signpost(
        resource=resource, pk=resource.pk, slug=resource.slug, name=resource.name,
        provider_organisation=resource.provider_organisation,
        description=resource.description, kind=resource.kind, phone=resource.phone,
        url=resource.url, countries=tuple(resource.countries or ()),
        organisation_id=resource.organisation_id, confirmed_at=resource.confirmed_at,
        time_zone=resource.time_zone, periods=periods, verification=verification,
        language_fallback=language_fallback,
        open_now=open_at(periods, kind=resource.kind, time_zone=resource.time_zone, at=at))


def resource_audiences(audience: str) -> tuple[str, ...]:
    """An AudienceStage (mapped through STAGE_RESOURCE_AUDIENCES) or a raw resource audience."""
    if audience in STAGE_RESOURCE_AUDIENCES:
        return tuple(STAGE_RESOURCE_AUDIENCES[audience])
    if audience in ResourceAudience.values:
        return (audience,)
    raise InvalidInput(f"Unknown audience '{audience}'.", field="audience")


def help_resources_visible(*, organisation: Organisation) -> QuerySet[HelpResource]:
    """Every resource the caller may read (any verification state), hours prefetched."""
    return (HelpResource.objects
            .filter(organisation_id__in=programmes_visible_to(organisation))
            .select_related("organisation")
            .prefetch_related("opening_hours"))


def help_resource_verification_counts(*, organisation: Organisation) -> dict[str, int]:
    """How many of the organisation's own resources are in each verification state."""
    own = HelpResource.objects.filter(organisation=organisation)
    return {status: own.filter(verification_q(status)).count()
            for status in VerificationStatus.values}


def help_resource_get(*, organisation: Organisation, slug: str) -> HelpResource | None:
    """One visible resource by slug (the caller's own copy first), or None: a 404."""
    candidates = list(help_resources_visible(organisation=organisation).filter(slug=slug))
    resources = _one_per_key(candidates, organisation, key=lambda r: r.slug)
    return resources[0] if resources else None


def help_resources_for(*, organisation: Organisation, country: str | None,
                       language: str | None, audience: str | None = None,
                       at: datetime | None = None,
                       include_unconfirmed: bool = False) -> list[Signpost]:
    """The resources to signpost, best first. The contract used by campaigns and interventions.

    - only displayable records (a confirmed contact route; never existence-only ones);
    - only confirmed and not stale ones unless include_unconfirmed;
    - country: ISO alpha-2 (case-insensitive); matches resources listing it or ["*"];
      resources with unknown countries never match. None: any country;
    - language: ISO 639-1; resources offered in it come first, then resources in English as a
      fallback (flagged `language_fallback=True`); resources in neither language, or with
      unknown languages, are left out. None: any language, no fallback ordering;
    - audience: an AudienceStage value (mapped through STAGE_RESOURCE_AUDIENCES) or a raw
      resource audience; None: any audience;
    - order: requested language before the English fallback; within that, open now, then
      hours unknown, then closed; then national services before worldwide ones; then name.

    Each result is a Signpost: the resource's fields with `open_now` (True / False / None =
    hours unknown), `language_fallback` and `verification` (a VerificationStatus value).
    """
    at = at or timezone.now()
    country = country.upper() if country else None
    language = language.lower() if language else None
    wanted = set(resource_audiences(audience)) if audience else None
    queryset = help_resources_visible(organisation=organisation).displayable()
    windows = stale_windows(programmes_visible_to(organisation))
    results = []
    for resource in _one_per_key(list(queryset), organisation, key=lambda r: r.slug):
        verification = resource.verification_status(
            now=at, stale_after_days=windows[resource.organisation_id])
        if verification != VerificationStatus.CONFIRMED and not include_unconfirmed:
            continue
        tier = _language_tier(resource, language)
        if tier is None or not _serves(resource, country, wanted):
            continue
        results.append(signpost_of(resource, verification=verification, at=at,
                                   language_fallback=tier == 1))
    return sorted(results, key=_signposting_order)


def help_resource_linkable(*, organisation: Organisation, resource_id: int,
                           at: datetime) -> HelpResource | None:
    """The resource a signed help link may lead to: visible to `organisation`, displayable,
    confirmed (not stale) at `at`, with a web address. None otherwise."""
    resource = (HelpResource.objects.displayable()
                .filter(pk=resource_id, organisation_id__in=programmes_visible_to(organisation))
                .exclude(url__isnull=True).exclude(url="").first())
    if resource is None:
        return None
    window = stale_windows([resource.organisation_id])[resource.organisation_id]
    status = resource.verification_status(now=at, stale_after_days=window)
    return resource if status == VerificationStatus.CONFIRMED else None


def help_resources_worldwide(*, at: datetime, limit: int = 8) -> list[HelpResource]:
    """Confirmed online services open worldwide (countries ["*"]), one per slug, by name.

    For a page whose programme is unknown (a link we cannot trust): only services anyone
    anywhere can use, each with a web address.
    """
    candidates = list(HelpResource.objects.displayable().exclude(url__isnull=True)
                      .exclude(url="").filter(confirmed_at__isnull=False)
                      .order_by("organisation_id", "name")[:500])
    windows = stale_windows({r.organisation_id for r in candidates})
    chosen: dict[str, HelpResource] = {}
    for resource in candidates:
        if resource.countries != ["*"] or resource.slug in chosen:
            continue
        status = resource.verification_status(
            now=at, stale_after_days=windows[resource.organisation_id])
        if status == VerificationStatus.CONFIRMED:
            chosen[resource.slug] = resource
    return sorted(chosen.values(), key=lambda r: r.name.casefold())[:limit]


def signposts_of(resources: list[HelpResource], *,
                 at: datetime | None = None) -> list[Signpost]:
    """Signposts (open now, verification) of resources read outside help_resources_for."""
    at = at or timezone.now()
    windows = stale_windows({r.organisation_id for r in resources})
    return [signpost_of(resource, at=at, verification=resource.verification_status(
        now=at, stale_after_days=windows[resource.organisation_id])) for resource in resources]


def _serves(resource: HelpResource, country: str | None, wanted: set[str] | None) -> bool:
    if country and not ({country, "*"} & set(resource.countries or [])):
        return False
    return not wanted or bool(wanted & set(resource.audiences or []))


def _language_tier(resource: HelpResource, language: str | None) -> int | None:
    languages = set(resource.languages or [])
    if language is None or language in languages:
        return 0
    if FALLBACK_LANGUAGE in languages:
        return 1
    return None


_OPEN_RANK = {True: 0, None: 1, False: 2}


def _signposting_order(signpost: Signpost) -> tuple:
    return (int(signpost.language_fallback), _OPEN_RANK[signpost.open_now], signpost.worldwide,
            signpost.name.casefold(), signpost.slug)


def _one_per_key(objects: list, organisation: Organisation, *, key) -> list:  # type: ignore[no-untyped-def]
    """Drop duplicates across visible directories: own copy first, then lowest programme id."""
    chosen: dict = {}
    for obj in sorted(objects, key=lambda o: (o.organisation_id != organisation.pk,
                                              o.organisation_id)):
        chosen.setdefault(key(obj), obj)
    return list(chosen.values())


# --- legal notices ----------------------------------------------------------------------------

def legal_notices_visible(*, organisation: Organisation) -> list[LegalNotice]:
    notices = (LegalNotice.objects
               .filter(organisation_id__in=programmes_visible_to(organisation))
               .prefetch_related("statutes"))
    unique = _one_per_key(list(notices), organisation, key=lambda n: n.jurisdiction)
    return sorted(unique, key=lambda n: n.jurisdiction)


def legal_notice_for(*, organisation: Organisation, jurisdiction: str) -> LegalNotice | None:
    """The legal notice that applies in `jurisdiction` (ISO 3166-1 or 3166-2), or None.

    Tried in order: a notice for exactly that code; a notice listing it in also_applies_to
    (GB-WLS finds GB-ENG); for a sub-national code, the country's notice (US-CA finds US); for a
    country code, the one sub-national notice of that country when there is exactly one
    (with GB-ENG and GB-SCT both present, GB is ambiguous and finds nothing).
    The contract used by campaigns and interventions.
    """
    code = jurisdiction.strip().upper()
    notices = legal_notices_visible(organisation=organisation)
    found = _applying(notices, code)
    if found is not None:
        return found
    country, _, subdivision = code.partition("-")
    if subdivision:
        return _applying(notices, country)
    national = [n for n in notices if n.jurisdiction.startswith(f"{country}-")]
    return national[0] if len(national) == 1 else None


def _applying(notices: list[LegalNotice], code: str) -> LegalNotice | None:
    exact = [n for n in notices if n.jurisdiction == code]
    if exact:
        return exact[0]
    listed = [n for n in notices if code in (n.also_applies_to or [])]
    return listed[0] if listed else None
