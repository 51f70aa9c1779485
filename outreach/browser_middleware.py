"""Browser-only middleware that steps aside on the API-key-only endpoints.

The signed-in user, its two-factor state and flash messages exist for people in a browser (the
admin, the public pages). A view that accepts nothing but an API key
(`organisations.api.authentication.ApiKeyOnly`: no session can authenticate there, so there is
nothing for CSRF to protect either) needs none of them, and on the live-intervention hot path
they cost a tenth of the request's CPU time. Each class here is Django's (or django-otp's) own
middleware, unchanged for every other path; on an API-key-only path it passes the request
straight on.

Session, CSRF and Axes middleware stay Django's own classes everywhere: `check --deploy` looks
for them by name (a subclass would silence its session-cookie and CSRF warnings), and on these
paths they cost little (a lazy session that is never loaded, a csrf_exempt view, one attribute
read). Everything that protects the API stays in force there: the security headers, the body
size limit and the host check (that middleware runs in full), and API-key authentication,
scopes, throttling and tenancy (the view itself).

The API-key-only paths are read from the URLconf once: the exact paths of views that declare
`api_key_only = True` (routes without converters only; any other path gets the full stack).
"""

from __future__ import annotations

import functools
from collections.abc import Iterable

from django.conf import settings
from django.contrib.auth.middleware import AuthenticationMiddleware as _AuthenticationMiddleware
from django.contrib.messages.middleware import MessageMiddleware as _MessageMiddleware
from django.http import HttpRequest
from django.urls import URLPattern, URLResolver, get_resolver
from django.urls.resolvers import RoutePattern
from django_otp.middleware import OTPMiddleware as _OTPMiddleware


def is_api_key_only(request: HttpRequest) -> bool:
    return request.path_info in api_key_only_paths(getattr(request, "urlconf", None)
                                                   or settings.ROOT_URLCONF)


@functools.lru_cache(maxsize=8)
def api_key_only_paths(urlconf: str) -> frozenset[str]:
    """Exact paths (with the leading slash) of the URLconf's API-key-only views."""
    return frozenset(_paths(get_resolver(urlconf).url_patterns, prefix="/"))


def _paths(patterns: Iterable, *, prefix: str) -> Iterable[str]:
    for entry in patterns:
        if not isinstance(entry.pattern, RoutePattern):
            continue  # a regex: not an exact path, keep the full stack
        route = str(entry.pattern)
        if "<" in route:
            continue  # a converter: not an exact path, keep the full stack
        if isinstance(entry, URLResolver):
            yield from _paths(entry.url_patterns, prefix=prefix + route)
        elif isinstance(entry, URLPattern):
            view_class = getattr(entry.callback, "view_class", None)
            if getattr(view_class, "api_key_only", False):
                yield prefix + route


class _BrowserOnly:
    """Mixin: the wrapped middleware does nothing on an API-key-only path."""

    get_response: object

    def __call__(self, request: HttpRequest):  # type: ignore[no-untyped-def]
        if is_api_key_only(request):
            return self.get_response(request)  # type: ignore[operator]
        return super().__call__(request)  # type: ignore[misc]


class AuthenticationMiddleware(_BrowserOnly, _AuthenticationMiddleware):
    pass


class OTPMiddleware(_BrowserOnly, _OTPMiddleware):
    pass


class MessageMiddleware(_BrowserOnly, _MessageMiddleware):
    pass
