from __future__ import annotations

import io
from collections.abc import Callable

from django.conf import settings
from django.core.handlers.asgi import ASGIRequest
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.middleware.common import CommonMiddleware
from django.middleware.locale import LocaleMiddleware
from django.utils import translation

from core.edge import text_problem

API_PREFIX = "/api/"


class RequestSizeLimitMiddleware:
    """Request bodies of at most MAX_REQUEST_BYTES (413 beyond), declared or chunked.

    A declared body (Content-Length) over the limit is refused before it is read. Django's
    WSGI request reads a body without a Content-Length as empty, which silently dropped a
    chunked upload (an NDJSON batch answered 200 `received: 0`): under WSGI, ChunkedBodyReader
    (outreach.wsgi) declares the body of a server that ends the input (gunicorn), and one
    still transfer-encoded here gets 411, never a read of nothing. Under ASGI Django has
    spooled the body already (outreach.asgi bounds that read by the same limit), so it is
    measured and its length declared.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        limit = settings.MAX_REQUEST_BYTES
        if _transfer_encoded(request.META):
            problem = _take_chunked_body(request, limit)
            if problem is not None:
                return problem
        try:
            length = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            return JsonResponse({"detail": "Invalid Content-Length."}, status=400)
        if length < 0:
            return JsonResponse({"detail": "Invalid Content-Length."}, status=400)
        if limit and length > limit:
            return _too_large(limit)
        return self.get_response(request)


def _too_large(limit: int) -> JsonResponse:
    return JsonResponse({"detail": f"Request body too large: at most {limit} bytes."},
                        status=413)


def _transfer_encoded(meta: dict) -> bool:
    coding = meta.get("HTTP_TRANSFER_ENCODING", "").strip().lower()
    return bool(coding) and coding != "identity"


def _take_chunked_body(request: HttpRequest, limit: int) -> HttpResponse | None:
    """Measure a transfer-encoded body and declare its length; or the 413 / 411 answer.
    RFC 9112: a Transfer-Encoding overrides any Content-Length."""
    if not isinstance(request, ASGIRequest):
        # Under WSGI, ChunkedBodyReader has already declared any body the server ended; one
        # still transfer-encoded here came from a server that cannot end it.
        return JsonResponse({"detail": "Length Required: send a Content-Length (this "
                             "server cannot read a chunked body)."}, status=411)
    size = len(request.body)  # Django's spooled copy, bounded by outreach.asgi.BodyLimit
    if limit and size > limit:
        return _too_large(limit)
    request.META["CONTENT_LENGTH"] = str(size)
    return None


class ChunkedBodyReader:
    """WSGI: a chunked body the server ends (`wsgi.input_terminated`: gunicorn does) is read
    here, at most MAX_REQUEST_BYTES + 1 bytes, and handed to Django as a declared body.

    Django's WSGI request reads a body without a Content-Length as empty, so this has to run
    before the request object exists; RequestSizeLimitMiddleware then answers 413 for a body
    over the limit exactly as for a declared one.
    """

    def __init__(self, app: Callable) -> None:
        self.app = app

    def __call__(self, environ: dict, start_response: Callable):  # type: ignore[no-untyped-def]
        if _transfer_encoded(environ) and environ.get("wsgi.input_terminated"):
            limit = settings.MAX_REQUEST_BYTES
            body = _read_at_most(environ["wsgi.input"], limit + 1 if limit else None)
            environ["wsgi.input"] = io.BytesIO(body)
            environ["CONTENT_LENGTH"] = str(len(body))
            del environ["HTTP_TRANSFER_ENCODING"]  # the body is declared now
        return self.app(environ, start_response)


def _read_at_most(source, most: int | None) -> bytes:  # type: ignore[no-untyped-def]
    chunks, size = [], 0
    while most is None or size < most:
        chunk = source.read(min(_READ_BYTES, most - size) if most else _READ_BYTES)
        if not chunk:
            break
        chunks.append(chunk)
        size += len(chunk)
    return b"".join(chunks)


_READ_BYTES = 64 * 1024


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
