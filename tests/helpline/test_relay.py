"""The sockets' batching (helpline.relay): many posts in one transaction with gapless, ordered
sequence numbers per conversation, one answer per sender (refusals, rate limits, a failed
batch), one notification per conversation per batch, other processes told through the
channel layer, and reads batched into one query that answers what messages_after answers."""

from __future__ import annotations

import asyncio
import threading
from datetime import timedelta

import pytest
from asgiref.sync import async_to_sync, sync_to_async
from channels.layers import get_channel_layer
from channels.testing import WebsocketCommunicator
from django.core.cache import cache
from django.db import OperationalError, close_old_connections
from django.utils import timezone

from core.errors import Conflict, Forbidden, InvalidInput, PayloadTooLarge
from core.throttle import hit, hit_many
from helpline import presenters, relay, retention, sealing, selectors, services
from helpline.models import Conversation, Message
from outreach.asgi import application
from tests.helpline.factories import helpline_world

pytestmark = [pytest.mark.usefixtures("postgres", "redis_url"),
              pytest.mark.django_db(transaction=True)]

CHAT = "/ws/helpline/chat/"
ORIGIN = [(b"origin", b"http://testserver")]


def _active(w, n: int = 1) -> list[Conversation]:  # type: ignore[no-untyped-def]
    """n conversations claimed by the world's counsellor (chats_per_counsellor allowing)."""
    conversations = []
    for _ in range(n):
        started = services.conversation_start(helpline=w.helpline)
        services.conversation_claim(counsellor=w.counsellor,
                                    conversation_id=started.conversation.pk)
        conversations.append(Conversation.objects.select_related("helpline", "counsellor")
                             .get(pk=started.conversation.pk))
    return conversations


def _texts(conversation: Conversation) -> list[tuple[int, str, str]]:
    return [(m["sequence"], m["sender"], m["text"])
            for m in selectors.messages_after(conversation, after=0)]


def test_one_batch_gives_each_post_the_next_sequence_in_order_and_refuses_only_what_it_must():
    w = helpline_world(chats_per_counsellor=3)
    one, two = _active(w, 2)
    ended = _active(w, 1)[0]
    services.person_leave(conversation=ended)
    base_one, base_two = one.next_sequence, two.next_sequence  # after the "joined" messages
    P = services.Post
    results = services.messages_post_batch([
        P(one, "first", "person"),
        P(two, "hello two", "person"),
        P(one, "second", "counsellor", w.counsellor),
        P(one, "x" * 4001, "person"),             # too long
        P(one, "   ", "person"),                  # empty
        P(ended, "too late", "person"),           # ended
        P(two, "not mine", "counsellor", w.colleague),
        P(one, "third", "person"),
        P(two, "half \ud800 a pair", "person"),   # a lone surrogate: cannot be sealed as UTF-8
    ])
    assert results[:3] == [base_one, base_two, base_one + 1]
    assert isinstance(results[3], PayloadTooLarge) and isinstance(results[4], InvalidInput)
    assert isinstance(results[5], Conflict) and isinstance(results[6], Forbidden)
    assert results[7] == base_one + 2
    assert isinstance(results[8], InvalidInput)  # refused alone; the batch is committed
    assert _texts(one)[-3:] == [(base_one, "person", "first"),
                                (base_one + 1, "counsellor", "second"),
                                (base_one + 2, "person", "third")]
    assert _texts(two)[-1] == (base_two, "person", "hello two")
    assert not Message.objects.filter(conversation=ended, sender="person").exists()
    one.refresh_from_db()
    assert one.next_sequence == base_one + 3
    sequences = list(Message.objects.filter(conversation=one).order_by("sequence")
                     .values_list("sequence", flat=True))
    assert sequences == list(range(1, base_one + 3))  # gapless from 1


def test_concurrent_batches_on_the_same_conversations_get_distinct_gapless_ordered_sequences():
    w = helpline_world()
    one, two = _active(w, 2)
    start = {c.pk: c.next_sequence for c in (one, two)}
    errors: list[BaseException] = []

    def writer(name: str) -> None:
        try:
            for k in range(10):
                services.messages_post_batch([
                    services.Post(one, f"{name} {k} a", "person"),
                    services.Post(two, f"{name} {k}", "counsellor", w.counsellor),
                    services.Post(one, f"{name} {k} b", "person")])
        except BaseException as error:  # reported below
            errors.append(error)
        finally:
            close_old_connections()

    threads = [threading.Thread(target=writer, args=(name,)) for name in ("left", "right")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    for conversation, count in ((one, 40), (two, 20)):
        rows = _texts(conversation)
        mine = [r for r in rows if r[0] >= start[conversation.pk]]
        assert [r[0] for r in mine] == list(range(start[conversation.pk],
                                                  start[conversation.pk] + count))
        for name in ("left", "right"):  # each writer's posts in the order it made them
            own = [text for _, _, text in mine if text.startswith(name)]
            expected = ([f"{name} {k} {s}" for k in range(10) for s in "ab"]
                        if conversation == one else [f"{name} {k}" for k in range(10)])
            assert own == expected


def test_the_batched_read_answers_what_messages_after_and_person_view_answer():
    w = helpline_world()
    one, two = _active(w, 2)
    for k in range(4):
        services.message_post(conversation=one, text=f"m{k}", sender="person")
    services.message_post(conversation=two, text="reply", sender="counsellor",
                          counsellor=w.counsellor)
    snapshots = selectors.conversations_after([(one.pk, 2), (one.pk, 4), (two.pk, 0)])
    assert snapshots[one.pk].messages == selectors.messages_after(one, after=2)
    assert snapshots[one.pk].after(4) == selectors.messages_after(one, after=4)
    assert snapshots[two.pk].messages == selectors.messages_after(two, after=0)
    snap = snapshots[two.pk]
    from_batch = presenters.person_view_of(
        two, state=snap.state, next_sequence=snap.next_sequence,
        counsellor_id=snap.counsellor_id, counsellor_name=snap.counsellor_name,
        messages=snap.messages)
    assert from_batch == presenters.person_view(two, after=0)
    # A shredded conversation reads as no messages (as messages_after), never an error.
    Conversation.objects.filter(pk=one.pk).update(data_key=sealing.DESTROYED)
    assert selectors.conversations_after([(one.pk, 0)])[one.pk].messages == []


class Recorder:
    def __init__(self) -> None:
        self.told: list[tuple[str, int]] = []
        self.committed: dict[str, selectors.Snapshot | None] = {}

    def relayed(self, conversation_key: str, sequence: int,
                committed: selectors.Snapshot | None = None) -> None:
        self.told.append((conversation_key, sequence))
        self.committed[conversation_key] = committed

    def changed(self, conversation_key: str, sequence: int) -> None:
        self.told.append(("changed", conversation_key, sequence))  # type: ignore[arg-type]

    def queue_changed(self) -> None:
        self.told.append(("queue",))  # type: ignore[arg-type]


def test_posts_of_one_tick_share_one_transaction_and_one_notification_per_conversation(settings):
    settings.HELPLINE_MESSAGES_PER_WINDOW = 100
    w = helpline_world()
    one, two = _active(w, 2)
    start = one.next_sequence

    async def scenario() -> None:
        r = relay.Relay(asyncio.get_running_loop())
        recorder = Recorder()
        await r.listen(one.pk.hex, recorder)
        await r.listen(two.pk.hex, recorder)
        posts = [r.post(one, f"p{k}", sender="person") for k in range(20)]
        posts.append(r.post(two, "other", sender="counsellor", counsellor=w.counsellor))
        sequences = await asyncio.gather(*posts)
        assert sequences[:20] == list(range(start, start + 20))  # distinct, in order
        assert r.batches["write"] == 1
        assert sorted(recorder.told) == sorted([(one.pk.hex, start + 19),
                                                (two.pk.hex, two.next_sequence)])
        # What the batch hands this process's sockets is what a read would answer.
        read = await sync_to_async(selectors.conversations_after)([(one.pk, start - 1),
                                                                   (two.pk, 0)])
        for conversation, after in ((one, start - 1), (two, two.next_sequence - 1)):
            handed = recorder.committed[conversation.pk.hex]
            assert handed is not None
            assert handed.messages == read[conversation.pk].after(after)
            assert (handed.state, handed.next_sequence, handed.counsellor_id,
                    handed.counsellor_name) == (
                read[conversation.pk].state, read[conversation.pk].next_sequence,
                read[conversation.pk].counsellor_id, read[conversation.pk].counsellor_name)
        # What was refused is the sender's own answer; the rest of the batch is written.
        outcomes = await asyncio.gather(r.post(one, "", sender="person"),
                                        r.post(one, "fine", sender="person"),
                                        return_exceptions=True)
        assert isinstance(outcomes[0], InvalidInput) and outcomes[1] == start + 20
        r.unlisten(one.pk.hex, recorder)
        r.unlisten(two.pk.hex, recorder)

    async_to_sync(scenario)()
    assert [t for _, _, t in _texts(one)][-21:] == [*(f"p{k}" for k in range(20)), "fine"]


def test_a_socket_that_missed_a_message_reads_it_instead_of_taking_the_batch(monkeypatch):
    """The batch's messages are handed to a socket only when they follow on from what it has
    sent; after a gap (a notification lost, a post from another path) it reads PostgreSQL."""
    w = helpline_world()
    started = services.conversation_start(helpline=w.helpline)
    services.conversation_claim(counsellor=w.counsellor)

    async def scenario() -> None:
        person = WebsocketCommunicator(application, CHAT, headers=ORIGIN)
        await person.connect()
        await person.send_json_to({"type": "hello", "token": started.token, "after": 0})
        view = await person.receive_json_from(timeout=5)
        seen = view["last_sequence"]
        with monkeypatch.context() as quiet:  # this one's notification is lost
            quiet.setattr(services.notify, "conversation_changed", lambda *a, **k: None)
            await sync_to_async(services.message_post)(
                conversation=started.conversation, text="missed", sender="counsellor",
                counsellor=w.counsellor)
        await person.send_json_to({"type": "message", "text": "mine"})
        frame = await person.receive_json_from(timeout=5)
        assert frame["type"] == "view"
        assert [(m["sequence"], m["text"]) for m in frame["messages"]] == [
            (seen + 1, "missed"), (seen + 2, "mine")]
        reads = relay.current().batches["read"]
        await person.send_json_to({"type": "message", "text": "next"})
        frame = await person.receive_json_from(timeout=5)  # follows on: handed, not read
        assert relay.current().batches["read"] == reads
        assert [(m["sequence"], m["text"]) for m in frame["messages"]] == [(seen + 3, "next")]
        assert frame["state"] == "active" and frame["counsellor"] == "Sam"
        await person.disconnect()

    async_to_sync(scenario)()


def test_a_failed_batch_tells_every_sender_and_loses_nothing_already_committed(monkeypatch):
    w = helpline_world()
    (one,) = _active(w, 1)
    real = services.messages_post_batch
    failing = {"on": False}

    def flaky(posts, **kwargs):  # type: ignore[no-untyped-def]
        if failing["on"]:
            raise OperationalError("the database went away")
        return real(posts, **kwargs)

    monkeypatch.setattr(services, "messages_post_batch", flaky)

    async def scenario() -> None:
        r = relay.Relay(asyncio.get_running_loop())
        committed = await r.post(one, "kept", sender="person")
        failing["on"] = True
        outcomes = await asyncio.gather(*(r.post(one, f"lost {k}", sender="person")
                                          for k in range(3)), return_exceptions=True)
        assert all(isinstance(o, relay.NotSent) for o in outcomes)
        failing["on"] = False
        assert await r.post(one, "after", sender="person") == committed + 1

    async_to_sync(scenario)()
    texts = [t for _, _, t in _texts(one)]
    assert texts[-2:] == ["kept", "after"] and not any(t.startswith("lost") for t in texts)


def test_a_person_whose_batch_failed_is_told_on_the_socket(monkeypatch):
    w = helpline_world()
    started = services.conversation_start(helpline=w.helpline)

    def broken(posts, **kwargs):  # type: ignore[no-untyped-def]
        raise OperationalError("the database went away")

    async def scenario() -> None:
        person = WebsocketCommunicator(application, CHAT, headers=ORIGIN)
        await person.connect()
        await person.send_json_to({"type": "hello", "token": started.token, "after": 0})
        assert (await person.receive_json_from(timeout=5))["type"] == "view"
        monkeypatch.setattr(services, "messages_post_batch", broken)
        await person.send_json_to({"type": "message", "text": "are you there"})
        error = await person.receive_json_from(timeout=5)
        assert error == {"type": "error", "status": 503,
                         "detail": "Your message was not sent. Please send it again."}
        await person.disconnect()

    async_to_sync(scenario)()
    assert not Message.objects.filter(conversation=started.conversation,
                                      sender="person").exists()


def test_another_process_hears_of_a_batch_through_the_encrypted_channel_layer():
    w = helpline_world()
    (one,) = _active(w, 1)

    async def scenario() -> None:
        loop = asyncio.get_running_loop()
        here, there = relay.Relay(loop), relay.Relay(loop)  # two server processes' relays
        assert here.layer is get_channel_layer() and here.origin != there.origin
        mine, theirs = Recorder(), Recorder()
        await here.listen(one.pk.hex, mine)
        await there.listen(one.pk.hex, theirs)
        sequence = await here.post(one, "across", sender="person")
        for _ in range(50):
            if theirs.told:
                break
            await asyncio.sleep(0.05)
        assert theirs.told == [(one.pk.hex, sequence)]
        await asyncio.sleep(0.2)  # its own broadcast comes back to `here`: not told twice
        assert mine.told == [(one.pk.hex, sequence)]
        here.unlisten(one.pk.hex, mine)
        there.unlisten(one.pk.hex, theirs)

    async_to_sync(scenario)()


def test_state_and_queue_changes_reach_only_the_sockets_that_watch_them_in_every_process():
    w = helpline_world(chats_per_counsellor=2)
    one, two = _active(w, 2)
    other = helpline_world(slug="other-line")

    async def until(recorder: Recorder, n: int) -> None:
        for _ in range(50):
            if len(recorder.told) >= n:
                return
            await asyncio.sleep(0.05)

    async def scenario() -> None:
        loop = asyncio.get_running_loop()
        here, there = relay.Relay(loop), relay.Relay(loop)  # two server processes' relays
        person, console, bystander, elsewhere = Recorder(), Recorder(), Recorder(), Recorder()
        await here.listen(one.pk.hex, person)
        await there.listen_queue(w.helpline.pk, console)
        await there.listen(two.pk.hex, bystander)
        await there.listen_queue(other.helpline.pk, elsewhere)
        # A state change committed by code outside the server (a view, a task): its
        # notification goes through the channel layer to every process's relay.
        left = await sync_to_async(services.person_leave, thread_sensitive=False)(
            conversation=one)
        await until(person, 1)
        await until(console, 1)
        await asyncio.sleep(0.2)  # anything else would have arrived by now
        # (the "person has left" message and the state change each notify: at most once each)
        assert set(person.told) == {("changed", one.pk.hex, left.next_sequence - 1)}
        assert set(console.told) == {("queue",)}
        assert bystander.told == [] and elsewhere.told == []
        # Nobody left listening in a process: its subscription ends; the next listen restarts it.
        there.unlisten(two.pk.hex, bystander)
        there.unlisten_queue(w.helpline.pk, console)
        assert there._listening is not None  # `elsewhere` still listens to its queue
        there.unlisten_queue(other.helpline.pk, elsewhere)
        assert there._listening is None
        here.unlisten(one.pk.hex, person)

    async_to_sync(scenario)()


def test_an_event_the_relay_does_not_understand_is_logged_and_dropped(caplog):
    r = relay.Relay(asyncio.new_event_loop(), layer=None)
    listener = Recorder()
    r._listeners["abc"] = {listener}
    r._heard({"type": "helpline.changed", "conversation": "abc", "sequence": "not a number"})
    r._heard({"type": "helpline.queue"})
    r._heard({"type": "helpline.relayed", "origin": "elsewhere", "changes": [["abc", 3]]})
    assert listener.told == [("abc", 3)]
    assert caplog.text.count("helpline relay event not understood") == 2
    r.loop.close()


def test_the_message_rate_limit_holds_through_the_relay(settings):
    settings.HELPLINE_MESSAGES_PER_WINDOW = 2
    w = helpline_world()
    (one,) = _active(w, 1)

    async def scenario() -> None:
        r = relay.Relay(asyncio.get_running_loop())
        outcomes = await asyncio.gather(*(r.post(one, f"m{k}", sender="person")
                                          for k in range(4)))
        assert [isinstance(o, int) for o in outcomes] == [True, True, False, False]
        assert outcomes[2:] == [relay.RATE_LIMITED, relay.RATE_LIMITED]
        # The counsellor is not rate-limited (as before).
        assert isinstance(await r.post(one, "reply", sender="counsellor",
                                       counsellor=w.counsellor), int)

    async_to_sync(scenario)()


@pytest.mark.parametrize("backend", ["redis", "locmem"])
def test_hit_many_counts_like_hit(settings, backend):  # type: ignore[no-untyped-def]
    if backend == "locmem":
        settings.CACHES = {"default": {
            "BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    cache.clear()
    assert hit_many([], limit=1, window=60) == []
    assert hit_many(["a", "b", "a"], limit=1, window=60) == [True, True, False]
    assert hit("b", limit=2, window=60) is True       # b's second event
    assert hit_many(["b"], limit=2, window=60) == [False]
    if backend == "redis":  # the counters expire with their window, as hit's do
        redis = cache._cache.get_client(write=True)
        assert 0 < redis.ttl(cache.make_key("a")) <= 60
    cache.clear()


def test_a_purged_conversation_takes_no_more_messages_even_with_its_key_remembered():
    w = helpline_world(retention_days=1)
    (one,) = _active(w, 1)
    assert isinstance(services.messages_post_batch([services.Post(one, "hi", "person")])[0], int)
    services.person_leave(conversation=one)
    Conversation.objects.filter(pk=one.pk).update(created_at=timezone.now() - timedelta(days=3))
    assert retention.conversations_purge_expired() == 1
    # `one` still holds the wrapped key it was loaded with; the row says DESTROYED.
    result = services.messages_post_batch([services.Post(one, "again", "person")])[0]
    assert isinstance(result, Conflict)
