"""The helpline's WebSocket routes. Only the console runs under the session and auth middleware
(staff sign in); the person's chat is anonymous and never looks at a cookie or a session.

The console reads the staff session once, when the socket connects, and never writes it (signing
in and out happen over HTTP), so its stack is Channels' AuthMiddlewareStack without the session
wrapper around every frame it sends, which only ever saves a session that a socket changed
(bench/helpline_chat.py: a console sends a frame per message of each chat it holds)."""

from typing import Any

from channels.auth import AuthMiddleware
from channels.sessions import CookieMiddleware, InstanceSessionWrapper, SessionMiddleware
from django.urls import path

from helpline import consumers


class SessionReadOnConnect(SessionMiddleware):
    """Channels' SessionMiddleware for a socket that never changes the session: the session
    is resolved into the scope as usual and `send` goes out unwrapped."""

    async def __call__(self, scope: dict, receive: Any, send: Any) -> Any:
        wrapper = InstanceSessionWrapper(scope, send)
        await wrapper.resolve_session()
        return await self.inner(wrapper.scope, receive, send)


def staff_socket(consumer: Any) -> CookieMiddleware:
    return CookieMiddleware(SessionReadOnConnect(AuthMiddleware(consumer)))


websocket_urlpatterns = [
    path("ws/helpline/chat/", consumers.PersonConsumer.as_asgi()),
    path("ws/helpline/console/", staff_socket(consumers.ConsoleConsumer.as_asgi())),
]
