"""Public learning pages: a module, enrolment, lessons, the knowledge check, the certificate and
mentoring requests. No account: the learner's pages are addressed by their resume token.

Bad input re-renders the form with a 400 naming the problem; an unknown or tampered address is
a 404 page that still offers the module's public page where we know it; never a 500.
"""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_POST

from core.errors import InvalidInput
from learning import learners, resume
from learning.certificate import MAX_NAME_CHARS, certificate_pdf
from learning.learners import BadInvitation
from learning.markdown import markdown_html
from learning.models import Learner, Module, Phase
from learning.selectors import learner_by_token, lessons_for, module_public
from learning.services import module_public_path
from learning.tasks import new_links_send

# "same-origin", not "no-referrer": the resume token in our addresses never leaves the site, and
# the browser still sends a real Origin with our form posts (with "no-referrer" it sends
# "Origin: null", which Django's CSRF check rightly refuses).
PRIVATE_HEADERS = {"Referrer-Policy": "same-origin", "X-Robots-Tag": "noindex, nofollow",
                   "Cache-Control": "no-store"}


def _page(request: HttpRequest, template: str, context: dict[str, Any],
          status: int = 200) -> HttpResponse:
    response = render(request, f"learning/{template}", context, status=status)
    for name, value in PRIVATE_HEADERS.items():
        response[name] = value
    return response


def _not_found(request: HttpRequest, module: Module | None = None,
               reason: str = "") -> HttpResponse:
    return _page(request, "not_found.html", {
        "module": module, "reason": reason,
        "module_path": module_public_path(module) if module else None}, status=404)


def _language(request: HttpRequest) -> str:
    requested = (request.GET.get("lang") or request.POST.get("lang") or "").strip()
    if not requested:
        accept = request.headers.get("Accept-Language") or ""
        requested = accept.split(",")[0].split(";")[0].strip()
    return requested[:8] if requested.replace("-", "").isalpha() else ""


def _home(token: str) -> str:
    return reverse("learning:home", args=[token])


# --- the module's public page and enrolment ----------------------------------------------------

@never_cache
@require_http_methods(["GET", "HEAD", "POST"])
def module_page(request: HttpRequest, organisation: str, slug: str) -> HttpResponse:
    module = module_public(organisation_slug=organisation, slug=slug)
    if module is None:
        return _not_found(request)
    via = (request.POST.get("via") if request.method == "POST" else request.GET.get("via")) or ""
    if via:
        try:
            learners.invitation_exposure(module=module, via=via[:1000])
        except BadInvitation:
            return _not_found(request, module, reason="invitation")
    if request.method == "POST":
        return _enrol(request, module, via)
    return _module(request, module, via=via)


def _module(request: HttpRequest, module: Module, *, via: str, error: InvalidInput | None = None,
            email: str = "") -> HttpResponse:
    language = _language(request)
    return _page(request, "module.html", {
        "module": module, "lessons": lessons_for(module, language=language), "via": via,
        "language": language, "error": error, "email": email,
        "question_count": module.questions.count()}, status=400 if error else 200)


def _enrol(request: HttpRequest, module: Module, via: str) -> HttpResponse:
    email = request.POST.get("email", "")
    try:
        _, token = learners.learner_enrol(
            module=module, via=via, email=email, language=_language(request),
            resume_url=lambda t: request.build_absolute_uri(_home(t)))
    except InvalidInput as error:
        return _module(request, module, via=via, error=error, email=email[:254])
    except BadInvitation:
        return _not_found(request, module, reason="invitation")
    return HttpResponseRedirect(_home(token))


@never_cache
@require_http_methods(["GET", "HEAD", "POST"])
def new_link(request: HttpRequest, organisation: str, slug: str) -> HttpResponse:
    """"Email me a new link": the same answer whether or not the address is enrolled."""
    module = module_public(organisation_slug=organisation, slug=slug)
    if module is None:
        return _not_found(request)
    context: dict[str, Any] = {"module": module, "email": ""}
    if request.method != "POST":
        return _page(request, "new_link.html", context)
    email = request.POST.get("email", "")
    try:
        task = resume.new_link_request(module=module, email=email,
                                       source=request.META.get("REMOTE_ADDR", ""))
    except InvalidInput as error:
        return _page(request, "new_link.html", {**context, "error": error,
                                                "email": email[:254]}, status=400)
    except resume.TooManyRequests:
        return _page(request, "new_link.html", {**context, "limited": True}, status=429)
    # Queued here, not in learning.resume: the task module imports resume (no import cycle).
    transaction.on_commit(lambda: new_links_send.delay(*task))
    return _page(request, "new_link.html", {**context, "sent": True})


# --- the learner's pages -----------------------------------------------------------------------

def _learner(token: str) -> Learner | None:
    return learner_by_token(token)


@never_cache
@require_http_methods(["GET", "HEAD"])
def home(request: HttpRequest, token: str) -> HttpResponse:
    learner = _learner(token)
    if learner is None:
        return _not_found(request)
    state = learners.learner_state(learner)
    lessons = lessons_for(learner.module, language=learner.language)
    return _page(request, "home.html", {
        "learner": learner, "module": learner.module, "token": token, "state": state,
        "lessons": [(view, view.lesson.pk in state.lessons_done) for view in lessons],
        "next_lesson": next((v for v in lessons if v.lesson.pk not in state.lessons_done), None)})


@never_cache
@require_http_methods(["GET", "HEAD", "POST"])
def lesson(request: HttpRequest, token: str, position: int) -> HttpResponse:
    learner = _learner(token)
    if learner is None:
        return _not_found(request)
    views = lessons_for(learner.module, language=learner.language)
    index = next((i for i, v in enumerate(views) if v.lesson.position == position), None)
    if index is None:
        return _not_found(request, learner.module)
    view = views[index]
    if request.method == "POST":
        learners.lesson_complete(learner=learner, lesson=view.lesson)
        following = views[index + 1] if index + 1 < len(views) else None
        if following is not None:
            return HttpResponseRedirect(reverse("learning:lesson",
                                                args=[token, following.lesson.position]))
        return HttpResponseRedirect(_home(token))
    return _page(request, "lesson.html", {
        "learner": learner, "module": learner.module, "token": token, "view": view,
        "number": index + 1, "count": len(views),
        "body": markdown_html(view.text.body if view.text else ""),
        "language": view.text.language if view.text else learner.module.default_language})


@never_cache
@require_http_methods(["GET", "HEAD", "POST"])
def check(request: HttpRequest, token: str, phase: str) -> HttpResponse:
    learner = _learner(token)
    if learner is None or phase not in Phase.values:
        return _not_found(request, learner.module if learner else None)
    questions = list(learner.module.questions.order_by("position", "pk"))
    if not questions:
        return HttpResponseRedirect(_home(token))
    error, chosen = None, {}
    if request.method == "POST":
        chosen = {k: v[:8] for k, v in request.POST.items() if k.startswith("q")}
        try:
            learners.answers_record(learner=learner, phase=phase, raw=request.POST)
            return HttpResponseRedirect(_home(token))
        except InvalidInput as invalid:
            error = invalid
    answered = learner.answers.filter(phase=phase).exists()
    return _page(request, "check.html", {
        "learner": learner, "module": learner.module, "token": token, "phase": phase,
        "questions": [(q, [(str(i), c) for i, c in enumerate(q.choices)]) for q in questions],
        "chosen": chosen, "error": error, "answered": answered},
        status=400 if error else 200)


@never_cache
@require_http_methods(["GET", "HEAD", "POST"])
def certificate(request: HttpRequest, token: str) -> HttpResponse:
    learner = _learner(token)
    if learner is None:
        return _not_found(request)
    if learner.completed_at is None:
        return HttpResponseRedirect(_home(token))
    error = None
    if request.method == "POST":
        name = request.POST.get("name", "").strip()
        if not name or len(name) > MAX_NAME_CHARS:
            error = InvalidInput(f"Enter the name to print (1 to {MAX_NAME_CHARS} characters).",
                                 field="name")
        else:
            return _pdf(learner, name)
    return _page(request, "certificate.html", {
        "learner": learner, "module": learner.module, "token": token, "error": error,
        "mentoring_sent": request.GET.get("mentoring") == "sent"},
        status=400 if error else 200)


def _pdf(learner: Learner, name: str) -> HttpResponse:
    module = learner.module
    response = HttpResponse(certificate_pdf(
        name=name, module_title=module.title, organisation_name=module.organisation.name,
        completed_at=learner.completed_at), content_type="application/pdf")
    response["Content-Disposition"] = f'attachment; filename="certificate-{module.slug}.pdf"'
    for header, value in PRIVATE_HEADERS.items():
        response[header] = value
    return response


@never_cache
@require_POST
def mentoring(request: HttpRequest, token: str) -> HttpResponse:
    learner = _learner(token)
    if learner is None:
        return _not_found(request)
    try:
        learners.mentoring_request_create(learner=learner, contact=request.POST.get("contact", ""),
                                          message=request.POST.get("message", ""))
    except InvalidInput as error:
        return _page(request, "certificate.html", {
            "learner": learner, "module": learner.module, "token": token,
            "mentoring_error": error, "contact": request.POST.get("contact", "")[:200],
            "message": request.POST.get("message", "")[:2000]}, status=400)
    return HttpResponseRedirect(reverse("learning:certificate", args=[token]) + "?mentoring=sent")
