"""The helpline's WebSocket routes. Only the console runs under the session and auth middleware
(staff sign in); the person's chat is anonymous and never looks at a cookie or a session, which
also spares every one of its frames the session wrapper's checks (bench/helpline_chat.py)."""

from channels.auth import AuthMiddlewareStack
from django.urls import path

from helpline import consumers

websocket_urlpatterns = [
    path("ws/helpline/chat/", consumers.PersonConsumer.as_asgi()),
    path("ws/helpline/console/", AuthMiddlewareStack(consumers.ConsoleConsumer.as_asgi())),
]
