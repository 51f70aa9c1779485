"""`make demo`'s helpline: seeded by the demo's story, served with WebSockets by the demo's web
server (uvicorn, outreach.asgi, in-memory channel layer), and usable side by side as the README
says: the person's page in one window, the counsellor console (the printed login) in another."""

from __future__ import annotations

import re

import pytest
from asgiref.sync import async_to_sync
from channels.testing import WebsocketCommunicator
from django.core.cache import cache
from django.test import Client

from helpline.models import Conversation
from outreach.demo import _seed_helpline
from outreach.management.commands import demo_seed, rundemo

pytestmark = [pytest.mark.django_db(transaction=True)]


@pytest.fixture
def demo_helpline(settings):  # type: ignore[no-untyped-def]
    cache.clear()  # the per-source start limit counts in the cache (Redis in CI)
    settings.CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
    settings.PUBLIC_BASE_URL = "http://127.0.0.1:8000"
    programme = demo_seed.Command().seed_tenancy()["programme"]
    line = _seed_helpline(programme)
    assert line == _seed_helpline(programme), "seeding twice changes nothing"
    return line


def _path(line: str, marker: str) -> str:
    return re.search(rf"http://127\.0\.0\.1:8000({marker}[^\s)]*)", line).group(1)


def test_the_demo_web_server_is_uvicorn_with_websockets_and_the_in_memory_layer():
    web = rundemo.PROCESSES["web"]
    assert "uvicorn" in web and "outreach.asgi:application" in web
    assert rundemo.WEB_ENV == {"CHANNEL_LAYER_URL": ""}
    printed = "\n".join(rundemo.summary_lines(port=8000, mail_port=1025))
    assert "/help/chat/demo-chat/" in printed and "/help/console/" in printed
    assert f"{rundemo.HELPLINE_LOGIN} / {rundemo.HELPLINE_PASSWORD}" in printed


def test_the_demo_helpline_page_and_a_websocket_round_trip(demo_helpline):
    chat_path, console_path = _path(demo_helpline, "/help/chat/"), _path(demo_helpline,
                                                                          "/help/console/")
    login, password = re.search(r"\((\S+) / (\S+)\)", demo_helpline).groups()
    counsellor = Client()
    page = counsellor.post(f"/admin/login/?next={console_path}",
                           {"username": login, "password": password}, follow=True)
    assert page.status_code == 200 and b'id="claim-next"' in page.content
    assert counsellor.post("/help/console/presence", {"presence": "online"},
                           content_type="application/json").status_code == 200

    person = Client()
    chat = person.get(chat_path)
    assert chat.status_code == 200 and not chat.cookies  # no cookie for the person
    started = person.post(chat_path + "start", {"caller_type": "own_thoughts"},
                          content_type="application/json")
    assert started.status_code == 201, started.content
    token = started.json()["token"]
    assert counsellor.post("/help/console/claim", {},
                           content_type="application/json").status_code == 200
    conversation = str(Conversation.objects.get().pk)
    cookie = f"sessionid={counsellor.cookies['sessionid'].value}".encode()
    origin = (b"origin", b"http://127.0.0.1:8000")

    async def round_trip() -> None:
        from outreach.asgi import application

        socket = WebsocketCommunicator(application, "/ws/helpline/chat/", headers=[origin])
        assert (await socket.connect())[0]
        await socket.send_json_to({"type": "hello", "token": token, "after": 0})
        view = await socket.receive_json_from(timeout=5)
        assert view["state"] == "active" and view["counsellor"] == "Sam"
        console = WebsocketCommunicator(application, "/ws/helpline/console/",
                                        headers=[origin, (b"cookie", cookie)])
        assert (await console.connect())[0]
        await console.send_json_to({"type": "watch", "conversation": conversation,
                                    "after": view["last_sequence"]})
        await console.receive_json_from(timeout=5)
        await socket.send_json_to({"type": "message", "text": "Hello, is this anonymous?"})
        heard = await _until(console, "Hello, is this anonymous?")
        assert heard["conversation"] == conversation
        await console.send_json_to({"type": "message", "conversation": conversation,
                                    "text": "Yes. You do not have to give your name."})
        await _until(socket, "Yes. You do not have to give your name.")
        await socket.disconnect()
        await console.disconnect()

    async_to_sync(round_trip)()


async def _until(socket: WebsocketCommunicator, text: str) -> dict:
    for _ in range(10):
        frame = await socket.receive_json_from(timeout=5)
        if text in [m["text"] for m in frame.get("messages", [])]:
            return frame
    raise AssertionError(f"{text!r} never arrived")
