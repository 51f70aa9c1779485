"""HTTP for the helpline: the person's page and its JSON endpoints, and the counsellor console.

Person endpoints need no account and set no cookie: the page holds the conversation token in
memory and sends it as `Authorization: Bearer <token>` (never in a URL, which servers log).
They are CSRF-exempt because no cookie authenticates them. Console endpoints are staff pages:
login required, session + CSRF, and every object is looked up through the counsellor's own
helpline (another organisation's conversation is a 404).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from functools import wraps
from typing import Any

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_http_methods

from core.errors import DomainError, InvalidInput
from helpline import presenters, safeguarding, selectors, services, throttle
from helpline.models import Conversation, Counsellor, CounsellorRole, SafeguardingFlag, Sender

MAX_BODY_BYTES = 16 * 1024


def _private(response: HttpResponse) -> HttpResponse:
    response["Cache-Control"] = "no-store"
    response["Referrer-Policy"] = "no-referrer"
    response["X-Robots-Tag"] = "noindex, nofollow"
    return response


def _json(data: dict, status: int = 200) -> HttpResponse:
    return _private(JsonResponse(data, status=status))


def _body(request: HttpRequest) -> dict:
    if len(request.body) > MAX_BODY_BYTES:
        raise services.PayloadTooLarge(f"The request is over {MAX_BODY_BYTES} bytes.")
    try:
        data = json.loads(request.body or b"{}")
    except (ValueError, UnicodeDecodeError) as error:
        raise InvalidInput("Send a JSON object.") from error
    if not isinstance(data, dict):
        raise InvalidInput("Send a JSON object.")
    return data


def json_endpoint(method: str, *, person: bool = False, staff: bool = False,
                  conversation: bool = False) -> Callable[[Callable[..., HttpResponse]],
                                                          Callable[..., HttpResponse]]:
    """The preamble every JSON endpoint shares, in one place:

    - one HTTP method (405 otherwise); a domain error answers as JSON with its status (never an
      HTML error page, never a 500);
    - ``person``: token-authenticated. The conversation named by ``Authorization: Bearer
      <token>`` is passed as ``conversation``; an unknown, tampered or purged token is a 404.
      No cookie authenticates these requests, so they are CSRF-exempt;
    - ``staff``: login required (session + CSRF); the signed-in user's counsellor record is
      passed as ``counsellor`` (none: 404); with ``conversation``, the URL's
      ``conversation_id`` is looked up through that counsellor's helpline and passed as
      ``conversation`` (another organisation's, or a colleague's for a counsellor: 404).
    """
    allowed = require_http_methods([method])

    def decorate(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
        @wraps(view)
        def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            try:
                if person:
                    kwargs["conversation"] = _person_conversation(request)
                if staff:
                    counsellor = kwargs["counsellor"] = _counsellor(request)
                    if conversation:
                        kwargs["conversation"] = _staff_conversation(
                            counsellor, kwargs.pop("conversation_id"))
                return view(request, *args, **kwargs)
            except DomainError as error:
                return _json(error.as_dict(), status=error.status_code)

        checked = allowed(wrapper)
        if staff:
            return login_required(checked)
        return csrf_exempt(checked)  # person endpoints and the public start/resume
    return decorate


# --- the person --------------------------------------------------------------------------------

def _helpline(slug: str) -> Any:
    helpline = selectors.helpline_by_slug(slug)
    if helpline is None:
        raise Http404
    return helpline


@require_GET
def chat_page(request: HttpRequest, slug: str) -> HttpResponse:
    helpline = _helpline(slug)
    via = request.GET.get("via", "")[:400]
    attribution = services.attribution_for(helpline=helpline, via=via)
    context = {"helpline": helpline, "via": via if attribution.exposure else "",
               "referral_code": attribution.referral_code,
               "caller_types": presenters.CALLER_CHOICES, "heard_choices": presenters.HEARD_CHOICES}
    response = render(request, "helpline/chat.html", context)
    response["Content-Security-Policy"] = (
        "default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; "
        "connect-src 'self' ws: wss:; img-src 'self'; frame-ancestors 'none'")
    return _private(response)


@require_GET
def status(request: HttpRequest, slug: str) -> HttpResponse:
    """Public: open? accepting? a free slot now? and, when not, the other help open now."""
    helpline = _helpline(slug)
    response = _json(presenters.status(helpline, at=timezone.now()))
    response["Access-Control-Allow-Origin"] = "*"  # the web component asks from partner pages
    return response


@require_GET
def resource_status(request: HttpRequest, resource_id: int) -> HttpResponse:
    """The same status by directory resource id: what <outreach-intervention> asks for a chat
    resource (it knows the resource id from the intervention answer, not our URLs). A resource
    not hosted here is a 404: the component then shows no "talk to someone now"."""
    helpline = selectors.helpline_for_resource(resource_id)
    if helpline is None:
        raise Http404
    return status(request, helpline.slug)


@json_endpoint("POST")
def start(request: HttpRequest, slug: str) -> HttpResponse:
    helpline = _helpline(slug)
    data = _body(request)
    if not throttle.source_allows(request.META.get("REMOTE_ADDR", ""), what="start"):
        return _json({"detail": "Too many new chats from here. Please wait a little."}, 429)
    try:
        started = services.conversation_start(
            helpline=helpline, caller_type=str(data.get("caller_type") or ""),
            heard_via=str(data.get("heard_via") or ""), via=str(data.get("via") or "")[:400],
            referral_code=str(data.get("referral_code") or ""))
    except services.HelplineUnavailable as error:
        return _json({**error.as_dict(), **presenters.status(helpline, at=timezone.now())}, 409)
    return _json({"token": started.token, "resume_code": started.resume_code,
                  **presenters.person_view(started.conversation, after=0)}, 201)


@json_endpoint("POST")
def resume(request: HttpRequest, slug: str) -> HttpResponse:
    helpline = _helpline(slug)
    data = _body(request)
    if not throttle.source_allows(request.META.get("REMOTE_ADDR", ""), what="resume"):
        return _json({"detail": "Too many attempts. Please wait a little."}, 429)
    conversation = selectors.conversation_for_resume_code(str(data.get("code") or ""))
    if conversation is None or conversation.helpline_id != helpline.pk:
        raise Http404
    token = services.conversation_resume(conversation=conversation)
    return _json({"token": token, **presenters.person_view(conversation, after=0)})


def _person_conversation(request: HttpRequest) -> Conversation:
    header = request.headers.get("Authorization", "")
    token = header.removeprefix("Bearer ").strip() if header.startswith("Bearer ") else ""
    conversation = selectors.conversation_for_token(token)
    if conversation is None:
        raise Http404
    return conversation


def _after(request: HttpRequest) -> int:
    try:
        return max(0, int(request.GET.get("after", "0")))
    except ValueError as error:
        raise InvalidInput("A whole number.", field="after") from error


@json_endpoint("GET", person=True)
def person_poll(request: HttpRequest, conversation: Conversation) -> HttpResponse:
    """The polling fallback (and heartbeat): state, queue position, messages after `after`."""
    services.person_seen(conversation=conversation)
    return _json(presenters.person_view(conversation, after=_after(request)))


@json_endpoint("POST", person=True)
def person_message(request: HttpRequest, conversation: Conversation) -> HttpResponse:
    if not throttle.message_allows(conversation.pk, sender=Sender.PERSON):
        return _json({"detail": "You are sending messages very fast. Please wait a moment."}, 429)
    result = services.message_post(conversation=conversation, text=_body(request).get("text"),
                                   sender=Sender.PERSON)
    return _json(result, 201)


@json_endpoint("POST", person=True)
def person_leave(request: HttpRequest, conversation: Conversation) -> HttpResponse:
    row = services.person_leave(conversation=conversation)
    return _json({"state": row.state})


# --- the console -------------------------------------------------------------------------------

def _counsellor(request: HttpRequest) -> Counsellor:
    counsellor = selectors.counsellor_for(user=request.user)
    if counsellor is None:
        raise Http404
    return counsellor


def _staff_conversation(counsellor: Counsellor, conversation_id: str) -> Conversation:
    conversation = selectors.staff_conversation(counsellor=counsellor,
                                                conversation_id=conversation_id)
    if conversation is None:
        raise Http404
    return conversation


@login_required
@require_GET
def console(request: HttpRequest) -> HttpResponse:
    counsellor = _counsellor(request)
    return _private(render(request, "helpline/console.html", {
        "counsellor": counsellor, "helpline": counsellor.helpline,
        "caller_types": presenters.CALLER_CHOICES, "concerns": presenters.CONCERN_CHOICES,
        "offered": presenters.OFFERED_CHOICES, "categories": presenters.SAFEGUARDING_CHOICES}))


@json_endpoint("GET", staff=True)
def console_state(request: HttpRequest, counsellor: Counsellor) -> HttpResponse:
    services.counsellor_heartbeat(counsellor=counsellor)
    return _json(presenters.console_state(counsellor, at=timezone.now()))


@json_endpoint("POST", staff=True)
def console_presence(request: HttpRequest, counsellor: Counsellor) -> HttpResponse:
    counsellor = services.counsellor_presence_set(
        counsellor=counsellor, presence=str(_body(request).get("presence") or ""))
    return _json({"presence": counsellor.presence})


@json_endpoint("POST", staff=True)
def console_claim(request: HttpRequest, counsellor: Counsellor) -> HttpResponse:
    wanted = _body(request).get("conversation")
    if wanted is not None and selectors.staff_conversation(
            counsellor=counsellor, conversation_id=wanted) is None:
        raise Http404
    conversation = services.conversation_claim(counsellor=counsellor, conversation_id=wanted)
    if conversation is None:
        return _json({"detail": "Nobody is waiting (or a colleague answered first)."}, 409)
    return _json({"conversation": str(conversation.pk)})


@json_endpoint("GET", staff=True, conversation=True)
def console_conversation(request: HttpRequest, counsellor: Counsellor,
                         conversation: Conversation) -> HttpResponse:
    return _json(presenters.staff_view(conversation, counsellor, after=_after(request)))


@json_endpoint("POST", staff=True, conversation=True)
def console_message(request: HttpRequest, counsellor: Counsellor,
                    conversation: Conversation) -> HttpResponse:
    result = services.message_post(conversation=conversation, text=_body(request).get("text"),
                                   sender=Sender.COUNSELLOR, counsellor=counsellor)
    return _json(result, 201)


@json_endpoint("POST", staff=True, conversation=True)
def console_transfer(request: HttpRequest, counsellor: Counsellor,
                     conversation: Conversation) -> HttpResponse:
    to = selectors.counsellors_on(counsellor.helpline).filter(
        pk=_int(_body(request).get("to"), "to")).first()
    if to is None:
        raise InvalidInput("Choose a colleague on this helpline.", field="to")
    services.conversation_transfer(conversation=conversation, by=counsellor, to=to)
    return _json({"counsellor": to.display_name})


@json_endpoint("POST", staff=True, conversation=True)
def console_end(request: HttpRequest, counsellor: Counsellor,
                conversation: Conversation) -> HttpResponse:
    data = _body(request)
    record = services.conversation_end(
        conversation=conversation, by=counsellor, caller_type=str(data.get("caller_type") or ""),
        concerns=data.get("concerns", []), offered=data.get("offered", []),
        note=data.get("note", ""))
    return _json({"contact_record": record.pk}, 201)


@json_endpoint("POST", staff=True, conversation=True)
def console_flag(request: HttpRequest, counsellor: Counsellor,
                 conversation: Conversation) -> HttpResponse:
    flag = safeguarding.flag_raise(conversation=conversation, by=counsellor,
                               category=str(_body(request).get("category") or ""))
    return _json({"flag": flag.pk, "acknowledge_by": flag.acknowledge_by.isoformat()}, 201)


@json_endpoint("POST", staff=True)
def console_acknowledge(request: HttpRequest, counsellor: Counsellor, flag_id: int
                        ) -> HttpResponse:
    flag = SafeguardingFlag.objects.filter(pk=flag_id, helpline_id=counsellor.helpline_id).first()
    if flag is None:
        raise Http404
    if counsellor.role == CounsellorRole.COUNSELLOR:
        return _json({"detail": "A supervisor acknowledges safeguarding flags."}, 403)
    safeguarding.flag_acknowledge(flag=flag, by=counsellor)
    return _json({"acknowledged": True})


def _int(value: object, field: str) -> int:
    try:
        return int(value)  # type: ignore[arg-type]
    except (TypeError, ValueError) as error:
        raise InvalidInput("A number.", field=field) from error
