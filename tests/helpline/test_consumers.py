"""WebSockets (channels.testing): messages are committed first, the layer only notifies, and a
reconnect with the last sequence number seen gets exactly what was missed."""

from __future__ import annotations

import json

import pytest
from asgiref.sync import async_to_sync, sync_to_async
from channels.testing import WebsocketCommunicator

from helpline import selectors, services
from helpline.consumers import ConsoleConsumer
from outreach.asgi import application
from tests.helpline.factories import helpline_world

pytestmark = [pytest.mark.usefixtures("postgres", "redis_url"),
              pytest.mark.django_db(transaction=True)]

CHAT = "/ws/helpline/chat/"
ORIGIN = [(b"origin", b"http://testserver")]


async def receive_until(communicator: WebsocketCommunicator, predicate, limit: int = 10):  # type: ignore[no-untyped-def]
    for _ in range(limit):
        frame = await communicator.receive_json_from(timeout=5)
        if predicate(frame):
            return frame
    raise AssertionError("expected frame not received")


def texts(frame: dict) -> list[str]:
    return [m["text"] for m in frame.get("messages", [])]


def test_a_person_and_a_counsellor_exchange_messages_in_real_time():
    w = helpline_world()
    started = services.conversation_start(helpline=w.helpline)

    async def scenario() -> None:
        person = WebsocketCommunicator(application, CHAT, headers=ORIGIN)
        assert (await person.connect())[0]
        await person.send_json_to({"type": "hello", "token": started.token, "after": 0})
        first = await person.receive_json_from(timeout=5)
        assert first["type"] == "view" and first["state"] == "waiting"
        console = WebsocketCommunicator(ConsoleConsumer.as_asgi(), "/ws/helpline/console/")
        console.scope["user"] = w.counsellor.user
        assert (await console.connect())[0]
        await sync_to_async(services.conversation_claim)(counsellor=w.counsellor)
        joined = await receive_until(person, lambda f: f.get("state") == "active")
        assert joined["counsellor"] == "Sam"
        await console.send_json_to({"type": "watch", "conversation": str(started.conversation.pk),
                                    "after": 0})
        await receive_until(console, lambda f: f["type"] == "messages")
        await person.send_json_to({"type": "message", "text": "Is anyone there?"})
        heard = await receive_until(console, lambda f: "Is anyone there?" in texts(f))
        assert heard["conversation"] == str(started.conversation.pk)
        await console.send_json_to({"type": "message", "conversation":
                                    str(started.conversation.pk), "text": "Yes, I am here."})
        await receive_until(person, lambda f: "Yes, I am here." in texts(f))
        await person.send_json_to({"type": "message", "text": "x" * 4001})
        error = await receive_until(person, lambda f: f["type"] == "error")
        assert error["status"] == 413
        await person.disconnect()
        await console.disconnect()

    async_to_sync(scenario)()


def test_each_sender_gets_its_own_message_back_once_with_its_sequence_in_order():
    """The sender's page learns its message is committed from the frame its own post pushes
    (helpline.consumers._push_posted): each message once, in sequence order, for posts in a row."""
    w = helpline_world()
    started = services.conversation_start(helpline=w.helpline)
    services.conversation_claim(counsellor=w.counsellor, conversation_id=started.conversation.pk)
    conversation_id = str(started.conversation.pk)

    async def own(communicator: WebsocketCommunicator, sender: str, n: int) -> list[tuple]:
        mine: list[tuple] = []
        while len(mine) < n:
            frame = await communicator.receive_json_from(timeout=5)
            mine += [(m["sequence"], m["text"]) for m in frame.get("messages", [])
                     if m["sender"] == sender]
        return mine

    async def scenario() -> None:
        person = WebsocketCommunicator(application, CHAT, headers=ORIGIN)
        assert (await person.connect())[0]
        await person.send_json_to({"type": "hello", "token": started.token, "after": 0})
        await person.receive_json_from(timeout=5)
        console = WebsocketCommunicator(ConsoleConsumer.as_asgi(), "/ws/helpline/console/")
        console.scope["user"] = w.counsellor.user
        assert (await console.connect())[0]
        await console.send_json_to({"type": "watch", "conversation": conversation_id,
                                    "after": 0})
        await receive_until(console, lambda f: f["type"] == "messages")
        for text in ("one", "two", "three"):
            await person.send_json_to({"type": "message", "text": text})
        people = await own(person, "person", 3)
        assert [t for _, t in people] == ["one", "two", "three"]
        assert [s for s, _ in people] == sorted({s for s, _ in people})  # once each, in order
        for text in ("yes", "go on"):
            await console.send_json_to({"type": "message", "conversation": conversation_id,
                                        "text": text})
        counsellors = await own(console, "counsellor", 2)
        assert [t for _, t in counsellors] == ["yes", "go on"]
        assert counsellors[0][0] > people[-1][0]
        assert await person.receive_nothing(timeout=0.3) is False  # the replies reach the person
        await person.disconnect()
        await console.disconnect()

    async_to_sync(scenario)()


def test_a_reconnect_with_the_last_sequence_seen_gets_what_was_missed():
    w = helpline_world()
    started = services.conversation_start(helpline=w.helpline)
    for text in ("one", "two", "three"):
        services.message_post(conversation=started.conversation, text=text, sender="person")

    async def scenario() -> None:
        person = WebsocketCommunicator(application, CHAT, headers=ORIGIN)
        await person.connect()
        await person.send_json_to({"type": "hello", "token": started.token, "after": 1})
        view = await person.receive_json_from(timeout=5)
        assert texts(view) == ["two", "three"]
        await person.disconnect()

    async_to_sync(scenario)()


def test_a_tampered_token_closes_the_socket_and_anonymous_staff_sockets_are_refused():
    w = helpline_world()
    started = services.conversation_start(helpline=w.helpline)

    async def scenario() -> None:
        person = WebsocketCommunicator(application, CHAT, headers=ORIGIN)
        await person.connect()
        await person.send_json_to({"type": "hello", "token": started.token[::-1]})
        assert (await person.receive_output(timeout=5))["type"] == "websocket.close"
        junk = WebsocketCommunicator(application, CHAT, headers=ORIGIN)
        await junk.connect()
        await junk.send_to(text_data="[not json")
        assert (await junk.receive_json_from(timeout=5))["type"] == "error"
        await junk.send_json_to({"type": "message", "text": "no hello first"})
        assert (await junk.receive_output(timeout=5))["type"] == "websocket.close"
        console = WebsocketCommunicator(application, "/ws/helpline/console/", headers=ORIGIN)
        connected, _ = await console.connect()
        assert not connected
        foreign = WebsocketCommunicator(application, CHAT,
                                        headers=[(b"origin", b"http://evil.example")])
        connected, _ = await foreign.connect()
        assert not connected

    async_to_sync(scenario)()


def test_frames_are_json_text_both_ways_and_invalid_json_is_refused_on_the_socket():
    w = helpline_world()
    started = services.conversation_start(helpline=w.helpline)
    services.conversation_claim(counsellor=w.counsellor, conversation_id=started.conversation.pk)
    text = 'Grüße, "quoted" \\ back\u2028slash <b>&amp;</b> 你好 \U0001f49c'

    async def scenario() -> None:
        person = WebsocketCommunicator(application, CHAT, headers=ORIGIN)
        await person.connect()
        await person.send_json_to({"type": "hello", "token": started.token, "after": 0})
        await receive_until(person, lambda f: f["type"] == "view")
        for bad in ('{"type": "message", "text": "\\ud800 alone"}',  # a lone surrogate
                    '{"type": "message", "text": NaN}', '"a string"', "[1, 2]"):
            await person.send_to(text_data=bad)
            frame = await person.receive_output(timeout=5)
            assert frame["type"] == "websocket.send" and isinstance(frame["text"], str)
            assert json.loads(frame["text"]) == {"type": "error", "detail": "Send JSON."}
        await person.send_json_to({"type": "message", "text": text})
        frame = await person.receive_output(timeout=5)
        assert "bytes" not in frame or frame["bytes"] is None
        view = json.loads(frame["text"])
        assert view["type"] == "view" and [m["text"] for m in view["messages"]] == [text]
        await person.disconnect()

    async_to_sync(scenario)()
    assert selectors.messages_after(started.conversation, after=0)[-1]["text"] == text
