from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.middleware.common import CommonMiddleware
from django.middleware.locale import LocaleMiddleware
from django.utils import translation

from core.edge import text_problem

API_PREFIX = "/api/"


class RequestSizeLimitMiddleware:
    """Refuse a declared body larger than MAX_REQUEST_BYTES with 413 before reading it."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        try:
            length = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            return JsonResponse({"detail": "Invalid Content-Length."}, status=400)
        if settings.MAX_REQUEST_BYTES and length > settings.MAX_REQUEST_BYTES:
            return JsonResponse(
                {"detail": f"Request body too large: at most {settings.MAX_REQUEST_BYTES} bytes."},
                status=413)
        return self.get_response(request)


class AdminLocaleMiddleware(LocaleMiddleware):
    """The admin speaks the language chosen in its switcher (cookie) or the browser's.

    Only the admin and the language switch are localised: API answers stay in one language
    (clients parse them), and the live-intervention hot path does no language negotiation.
    The language is reset after each admin response so it cannot leak into the next request
    a thread serves.
    """

    prefixes = ("/admin/", "/i18n/")

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if not request.path_info.startswith(self.prefixes):
            return self.get_response(request)
        try:
            return super().__call__(request)
        finally:
            translation.deactivate()


class EdgeTextMiddleware:
    """Query parameters and the path checked once (core.edge.text_problem): a NUL character
    reached PostgreSQL, which refuses it (a 500). A bad parameter is a 400 naming it."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if "\x00" in request.path_info:
            return JsonResponse({"detail": "Not found."}, status=404)
        if request.META.get("QUERY_STRING"):
            for name, values in request.GET.lists():
                for text in (name, *values):
                    problem = text_problem(text)
                    if problem:
                        return JsonResponse({name if text is not name else "detail":
                                             [problem]}, status=400)
        return self.get_response(request)


class ApiCommonMiddleware(CommonMiddleware):
    """Django's CommonMiddleware, without the trailing-slash redirect of an API request that
    carries a body: a redirect drops the body (and DEBUG raises a 500 for it). The request
    gets the API's JSON 404 instead (outreach.urls.handler404)."""

    def should_redirect_with_slash(self, request: HttpRequest) -> bool:
        if request.path_info.startswith(API_PREFIX) and request.method not in ("GET", "HEAD"):
            return False
        return super().should_redirect_with_slash(request)
