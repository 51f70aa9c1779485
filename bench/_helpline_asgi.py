"""The bench's ASGI app: the real application, plus a bare Channels echo consumer at
/ws/bench/echo/ (the baseline, served by the same uvicorn processes in the same run)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "outreach.settings")

from channels.generic.websocket import AsyncWebsocketConsumer

from outreach.asgi import application as outreach_application


class EchoConsumer(AsyncWebsocketConsumer):
    channel_layer_alias = "bench-none"  # no such layer: a bare consumer, no channel to listen on

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None,
                      **kwargs: object) -> None:
        await self.send(text_data=text_data)


echo = EchoConsumer.as_asgi()


async def application(scope: dict, receive, send) -> None:  # type: ignore[no-untyped-def]
    if scope["type"] == "websocket" and scope.get("path") == "/ws/bench/echo/":
        return await echo(scope, receive, send)
    return await outreach_application(scope, receive, send)
