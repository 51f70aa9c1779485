"""Signed help links (/go/<token>) and telling real clicks from prefetches and preview bots.

A token is a TimestampSigner signature (salt "outreach.go") over {exposure id, resource id}.
It names the resource by id only: the URL a click goes to is read from the directory, so a
link can never redirect anywhere the directory does not list (no open redirect).

Resources hosted here (their URL is on PUBLIC_BASE_URL, e.g. the helpline's chat page or a
learning module) get `?via=<signed reference>` appended on the way through (`with_via`): a
second signature (salt "outreach.via") over the same {exposure id, resource id}, so the hosted
page can attribute the visit (`via_target`) without cookies and without trusting the query
string. Other sites never see it.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import json
import re
import time
import uuid
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import urlsplit

from django.conf import settings
from django.core import signing
from django.http import HttpRequest
from django.urls import reverse
from django.utils.http import urlencode

from directory.selectors import help_resource_linkable
from organisations.models import Organisation

SALT = "outreach.go"
# Long enough for a person to come back to a warning they saw; a leaked link dies eventually.
DEFAULT_MAX_AGE_SECONDS = 30 * 24 * 3600

PREVIEW_AGENTS = re.compile(
    r"slackbot|facebookexternalhit|facebot|twitterbot|whatsapp|telegrambot|discordbot|"
    r"linkedinbot|googlebot|bingbot|skypeuripreview|embedly|redditbot|applebot",
    re.IGNORECASE)


@dataclass(frozen=True)
class LinkTarget:
    exposure_id: uuid.UUID
    resource_id: int


class BadLink(Exception):
    """The token is not ours (tampered) or is too old; `target` is set when only expired."""

    def __init__(self, reason: str, target: LinkTarget | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.target = target


def link_destination(*, organisation: Organisation, target: LinkTarget,
                     at: datetime) -> str | None:
    """Where a click on a signed link may go: the allow-list of help URLs is the directory.

    The token names a resource by id only; the URL is read here from the directory, and only
    for a resource visible to the exposure's organisation that is confirmed (not stale) and
    has a web address. None: the link leads nowhere (withdrawn, unconfirmed, another
    organisation's). No other code turns a link into a redirect target.
    """
    resource = help_resource_linkable(organisation=organisation,
                                      resource_id=target.resource_id, at=at)
    return resource.url if resource is not None else None


def max_age() -> int:
    return int(getattr(settings, "INTERVENTION_LINK_MAX_AGE_SECONDS", DEFAULT_MAX_AGE_SECONDS))


def link_token(*, exposure_id: uuid.UUID, resource_id: int) -> str:
    """TimestampSigner(salt=SALT).sign_object({...}), byte for byte (a test compares them).

    Written out because every intervention signs a link per help resource: the HMAC state of
    the derived key is computed once per SECRET_KEY instead of twice per link. Checking a link
    (link_target) uses Django's signer, which also accepts SECRET_KEY_FALLBACKS.
    """
    payload = json.dumps({"e": exposure_id.hex, "r": int(resource_id)}, separators=(",", ":"))
    value = f"{signing.b64_encode(payload.encode('latin-1')).decode()}:" \
            f"{signing.b62_encode(int(time.time()))}"
    mac = _keyed_hmac(settings.SECRET_KEY).copy()
    mac.update(value.encode())
    return f"{value}:{signing.b64_encode(mac.digest()).decode()}"


@functools.lru_cache(maxsize=4)
def _keyed_hmac(secret_key: str) -> hmac.HMAC:
    # django.utils.crypto.salted_hmac's derived key for Signer(salt=SALT, algorithm="sha256").
    derived = hashlib.sha256(f"{SALT}signer".encode() + secret_key.encode()).digest()
    return hmac.new(derived, digestmod=hashlib.sha256)


# Scheduled messages are rendered once for many people before their exposures exist: links are
# signed for this placeholder first, then re-signed per person by `personalise_help_links`.
PENDING_EXPOSURE = uuid.UUID(int=0)


def help_link_signer(resource: object) -> str:
    """The link_signer for batch rendering: a placeholder link per resource."""
    return link_url(exposure_id=PENDING_EXPOSURE, resource_id=resource.pk)  # type: ignore[attr-defined]


def personalise_help_links(text: str, *, exposure_id: uuid.UUID) -> str:
    """Swap each placeholder link in `text` for one signed for this person's exposure."""

    def resign(match: re.Match) -> str:
        try:
            target = link_target(match.group(1))
        except BadLink:
            return match.group(0)
        if target.exposure_id != PENDING_EXPOSURE:
            return match.group(0)
        return _go_prefix() + link_token(exposure_id=exposure_id, resource_id=target.resource_id)

    return re.sub(re.escape(_go_prefix()) + r"([A-Za-z0-9_\-:]+)", resign, text)


def link_url(*, exposure_id: uuid.UUID, resource_id: int) -> str:
    token = link_token(exposure_id=exposure_id, resource_id=resource_id)
    return f"{settings.PUBLIC_BASE_URL.rstrip('/')}{_go_prefix()}{token}"


@functools.cache
def _go_prefix() -> str:
    # Reversed once: URL resolution is a measurable share of an intervention's CPU time.
    return reverse("interventions:go", args=["-"])[:-1]


def link_target(token: str) -> LinkTarget:
    """The link's target, or BadLink (with the target when the signature is good but old)."""
    signer = signing.TimestampSigner(salt=SALT)
    try:
        return _target(signer.unsign_object(token, max_age=max_age()))
    except signing.SignatureExpired:
        return _expired(signer, token)
    except (signing.BadSignature, ValueError, TypeError, KeyError) as error:
        raise BadLink("tampered") from error


def _expired(signer: signing.TimestampSigner, token: str) -> LinkTarget:
    try:
        target = _target(signer.unsign_object(token))
    except (signing.BadSignature, ValueError, TypeError, KeyError):
        target = None
    raise BadLink("expired", target)


def _target(payload: object) -> LinkTarget:
    if not isinstance(payload, dict):
        raise ValueError("payload")
    return LinkTarget(exposure_id=uuid.UUID(hex=str(payload["e"])),
                      resource_id=int(payload["r"]))


def is_prefetch_or_preview(request: HttpRequest) -> bool:
    """HEAD requests, browser prefetches and link-preview bots must not count as clicks."""
    if request.method == "HEAD":
        return True
    purpose = (request.headers.get("Sec-Purpose") or request.headers.get("Purpose")
               or request.headers.get("X-Purpose") or request.headers.get("X-Moz") or "")
    if "prefetch" in purpose.lower() or "preview" in purpose.lower():
        return True
    return bool(PREVIEW_AGENTS.search(request.headers.get("User-Agent") or ""))


# --- "hosted here": attribution for our own pages ----------------------------------------------

VIA_SALT = "outreach.via"
VIA_PARAMETER = "via"


def is_hosted_here(url: str) -> bool:
    """True when `url` is on this site (same scheme and host as PUBLIC_BASE_URL)."""
    ours, theirs = urlsplit(settings.PUBLIC_BASE_URL), urlsplit(url or "")
    return bool(theirs.netloc) and (theirs.scheme, theirs.netloc.lower()) == \
        (ours.scheme, ours.netloc.lower())


def via_token(*, exposure_id: uuid.UUID, resource_id: int) -> str:
    return signing.TimestampSigner(salt=VIA_SALT).sign_object(
        {"e": exposure_id.hex, "r": int(resource_id)})


def via_target(token: str) -> LinkTarget:
    """The exposure and resource a `via` reference names; BadLink when tampered or too old."""
    try:
        return _target(signing.TimestampSigner(salt=VIA_SALT).unsign_object(
            token, max_age=max_age()))
    except signing.SignatureExpired as error:
        raise BadLink("expired") from error
    except (signing.BadSignature, ValueError, TypeError, KeyError) as error:
        raise BadLink("tampered") from error


def with_via(url: str, *, target: LinkTarget) -> str:
    """`url` with the signed reference appended when it is hosted here; otherwise unchanged."""
    if not is_hosted_here(url):
        return url
    separator = "&" if urlsplit(url).query else "?"
    token = via_token(exposure_id=target.exposure_id, resource_id=target.resource_id)
    return f"{url}{separator}{urlencode({VIA_PARAMETER: token})}"
