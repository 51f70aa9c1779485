from django.urls import path

from helpline import consumers

websocket_urlpatterns = [
    path("ws/helpline/chat/", consumers.PersonConsumer.as_asgi()),
    path("ws/helpline/console/", consumers.ConsoleConsumer.as_asgi()),
]
