"""Public pages: the signed help redirect, the demo partner page and the benchmark baseline."""

from __future__ import annotations

import json
import os
import uuid

from django.conf import settings
from django.db import connection
from django.http import (
    Http404,
    HttpRequest,
    HttpResponse,
    HttpResponseRedirect,
    JsonResponse,
)
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from core.errors import DomainError
from core.vocabulary import Channel
from directory.selectors import help_resources_worldwide
from evaluation.exposure_log import ExposureRow, exposure_insert_unless_capped
from evaluation.models import ExposureSource
from interventions.api.views import intervention_answer
from interventions.links import BadLink, is_prefetch_or_preview, link_target, with_via
from interventions.selectors import demo_partners
from interventions.services import (
    InterventionContext,
    expired_link_resources,
    help_click_record,
    intervention_request,
)
from organisations.models import Organisation

DEMO_BODY_LIMIT = 4096


def _flag(name: str) -> bool:
    return bool(settings.DEBUG or getattr(settings, name, False)
                or os.environ.get(name) == "1")


def demo_pages_enabled() -> bool:
    return _flag("DEMO_PAGES")


def bench_endpoints_enabled() -> bool:
    return _flag("BENCH_ENDPOINTS")


# --- /go/<token> -------------------------------------------------------------------------------

@never_cache
@require_http_methods(["GET", "HEAD"])
def go(request: HttpRequest, token: str) -> HttpResponse:
    """Record a help click for the exposure and send the person to the directory's URL."""
    now = timezone.now()
    try:
        target = link_target(token)
    except BadLink as error:
        return _bad_link(request, error, now=now)
    url = help_click_record(target=target, count=not is_prefetch_or_preview(request), at=now)
    if url is None:
        return _help_page(request, resources=expired_link_resources(target=target, at=now),
                          reason="withdrawn", status=410, with_phones=True)
    response = HttpResponseRedirect(with_via(url, target=target))
    response["Referrer-Policy"] = "no-referrer"
    response["X-Robots-Tag"] = "noindex, nofollow"
    return response


def _bad_link(request: HttpRequest, error: BadLink, *, now) -> HttpResponse:  # type: ignore[no-untyped-def]
    if error.target is not None:  # genuine but old: we know which warning it came from
        resources = expired_link_resources(target=error.target, at=now)
        if resources:
            return _help_page(request, resources=resources, reason=error.reason, status=400,
                              with_phones=True)
    return _help_page(request, resources=help_resources_worldwide(at=now),
                      reason=error.reason, status=400, with_phones=False)


def _help_page(request: HttpRequest, *, resources: list, reason: str, status: int,
               with_phones: bool) -> HttpResponse:
    now = timezone.now()
    items = [{"name": r.name, "description": r.description, "url": r.url,
              "phone": r.phone if with_phones and r.phone and r.is_open(now) is True else None}
             for r in resources]
    response = render(request, "interventions/go_invalid.html",
                      {"resources": items, "reason": reason}, status=status)
    response["X-Robots-Tag"] = "noindex, nofollow"
    response["Referrer-Policy"] = "no-referrer"
    return response


# --- demo partner page -------------------------------------------------------------------------

@require_GET
def demo_partner(request: HttpRequest) -> HttpResponse:
    """A mock search page of a partner platform (DEBUG or DEMO_PAGES=1 only)."""
    if not demo_pages_enabled():
        raise Http404
    partners = demo_partners()
    slug = request.GET.get("partner")
    chosen = next((p for p in partners if p.slug == slug), None) if slug else (
        partners[0] if len(partners) == 1 else None)
    if chosen is not None:
        return render(request, "interventions/demo_partner.html", {"partner": chosen})
    # No choice made (or an unknown one): list the partners the page can play, never a bare 404.
    return render(request, "interventions/demo_partner_choose.html",
                  {"partners": partners, "unknown": slug}, status=404 if slug else 200)


@require_POST
def demo_trigger(request: HttpRequest) -> JsonResponse:
    """Same-origin stand-in for the partner's server calling POST /api/v1/interventions.

    A real partner calls the API from its server with its key; a key must never be in a page.
    """
    if not demo_pages_enabled():
        raise Http404
    try:
        body = json.loads(request.body[:DEMO_BODY_LIMIT] or b"{}")
        partner = Organisation.objects.get(slug=str(body.get("partner", "")))
        context = InterventionContext(
            trigger=str(body.get("trigger", "")), country=str(body.get("country", "")),
            language=str(body.get("language", "")),
            session_id=str(body.get("session_id", ""))[:256] or "demo-anonymous",
            platform="demo-web", attributes={"surface": "search"})
        result = intervention_request(partner=partner, context=context)
    except (ValueError, Organisation.DoesNotExist):
        return JsonResponse({"detail": "Bad demo request."}, status=400)
    except DomainError as error:
        return JsonResponse(error.as_dict(), status=error.status_code)
    return JsonResponse(intervention_answer(result))


# --- benchmark baseline ------------------------------------------------------------------------

@require_GET
def bench_bare(request: HttpRequest) -> JsonResponse:
    """A bare Django JSON view: the baseline the intervention benchmark compares against."""
    if not bench_endpoints_enabled():
        raise Http404
    return JsonResponse({"ok": True})


BENCH_WRITE_TABLE = "bench_write"


@require_GET
def bench_bare_write(request: HttpRequest) -> JsonResponse:
    """A bare Django JSON view that commits one row first: the second baseline, to show what a
    durable write costs by itself. The benchmark creates the table (bench_write_table_create)."""
    if not bench_endpoints_enabled():
        raise Http404
    with connection.cursor() as cursor:
        cursor.execute(f"INSERT INTO {BENCH_WRITE_TABLE} (id, at) VALUES (%s, %s)",  # noqa: S608
                       [uuid.uuid4().hex, timezone.now()])
    return JsonResponse({"ok": True})


@require_GET
def bench_group_write(request: HttpRequest) -> JsonResponse:
    """A bare view that commits one exposure row through the intervention path's group writer
    (`evaluation.exposure_log`), with no other work: the third baseline, the floor of an
    endpoint that shares its commits. The benchmark passes the ids of its seeded campaign."""
    if not bench_endpoints_enabled():
        raise Http404
    try:
        ids = {name: int(request.GET[name]) for name in ("organisation", "campaign", "arm")}
    except (KeyError, ValueError):
        return JsonResponse({"detail": "Pass organisation, campaign and arm ids."}, status=400)
    row = ExposureRow(
        id=uuid.uuid4(), organisation_id=ids["organisation"], campaign_id=ids["campaign"],
        arm_id=ids["arm"], schedule_id=None, segment_id=None, partner_id=None, message_id=None,
        source=ExposureSource.INTERVENTION, channel=Channel.ON_PLATFORM, country="GB",
        language="en", trigger="bench", subject_key_id="bench",
        subject_pseudonym=uuid.uuid4().hex, is_holdout=False, occurred_at=timezone.now())
    exposure_insert_unless_capped(row, cap=None)
    return JsonResponse({"ok": True})


def bench_write_table_create() -> None:
    with connection.cursor() as cursor:
        cursor.execute(f"CREATE TABLE IF NOT EXISTS {BENCH_WRITE_TABLE} "
                       "(id varchar(32) PRIMARY KEY, at timestamp with time zone NOT NULL)")
