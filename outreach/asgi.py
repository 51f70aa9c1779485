"""ASGI entry point: HTTP to Django, /ws/ to the helpline's WebSocket consumers.

WSGI (gunicorn, outreach/wsgi.py) keeps serving everything but the WebSockets; the chat pages
fall back to polling when no socket connects.

Django's ASGI handler spools a whole request body to a temporary file before any middleware
runs, whatever its size; `BodyLimit` stops reading at MAX_REQUEST_BYTES (declared or chunked)
and answers 413, the same answer outreach.middleware.RequestSizeLimitMiddleware gives.
"""

import json
import os

from django.conf import settings
from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "outreach.settings")
django_application = get_asgi_application()  # sets Django up before the consumers import

from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from channels.security.websocket import AllowedHostsOriginValidator  # noqa: E402

from core.logging import install_access_log_filters  # noqa: E402
from helpline.routing import websocket_urlpatterns  # noqa: E402

install_access_log_filters()  # no client address, token or query string in access logs


class BodyLimit:
    """ASGI: a request body over MAX_REQUEST_BYTES is a 413, declared or not, read no further."""

    def __init__(self, app):  # type: ignore[no-untyped-def]
        self.app = app

    async def __call__(self, scope, receive, send):  # type: ignore[no-untyped-def]
        limit = settings.MAX_REQUEST_BYTES
        if scope["type"] != "http" or not limit:
            return await self.app(scope, receive, send)
        declared = dict(scope.get("headers") or []).get(b"content-length", b"")
        if declared.isdigit() and int(declared) > limit:
            return await _send_too_large(send, limit)
        read, over, started = 0, False, False

        async def counted_receive():  # type: ignore[no-untyped-def]
            nonlocal read, over
            message = await receive()
            if message["type"] == "http.request":
                read += len(message.get("body", b""))
                if read > limit:
                    over = True  # Django treats a disconnect as an aborted request
                    return {"type": "http.disconnect"}
            return message

        async def watched_send(message):  # type: ignore[no-untyped-def]
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        await self.app(scope, counted_receive, watched_send)
        if over and not started:
            await _send_too_large(send, limit)


async def _send_too_large(send, limit: int) -> None:  # type: ignore[no-untyped-def]
    body = json.dumps({"detail": f"Request body too large: at most {limit} bytes."}).encode()
    await send({"type": "http.response.start", "status": 413,
                "headers": [(b"content-type", b"application/json"),
                            (b"content-length", str(len(body)).encode()),
                            (b"connection", b"close")]})
    await send({"type": "http.response.body", "body": body})


# The session and auth middleware wrap the console's route only (helpline.routing).
application = ProtocolTypeRouter({
    "http": BodyLimit(django_application),
    "websocket": AllowedHostsOriginValidator(URLRouter(websocket_urlpatterns)),
})
