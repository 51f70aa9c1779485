"""Helpline chat relay: 500 concurrent WebSocket conversations beside a bare echo consumer.

    python bench/helpline_chat.py [--conversations 500] [--chats-each 2] [--duration 10]
                                  [--rounds 6] [--workers 2] [--interval 10]

The real ASGI app (outreach.asgi, Channels consumers, channels-redis with its symmetric
encryption) under uvicorn on loopback, PostgreSQL + Redis. One uvicorn serves both, so the
baseline is measured by the same processes in the same run:

  echo        a bare Channels consumer that sends every frame straight back (no database,
              no channel layer): closed loop, one frame in flight per connection;
  chat, max   every conversation has a person socket and its counsellor's console socket
              (a console watches `--chats-each` conversations); closed loop: the person
              writes, the counsellor's console receives it, the counsellor answers, the
              person's page receives it, again. Each message is committed to PostgreSQL
              first (sealed with the conversation's data key, next sequence number), then a
              notification goes through channels-redis and both sides read it back from the
              database;
  chat, paced open loop: each conversation exchanges one message each way every
              `--interval` seconds (random phase), and at half the measured chat maximum;
              latency is counted from each message's scheduled time, so queueing counts.

Echo and chat maximum run in alternating rounds (`--rounds`, echo then chat each time, with the
chat's sockets open and idle during the echo): what the shared cores give a phase drifts within
a run, so the throughput target is judged on the median of the per-round ratios, each chat
round against the echo round just before it; the table pools the rounds. Every run starts by
vacuuming the helpline's tables (the previous runs' deleted messages would otherwise be
autovacuumed in the middle of a phase).

Relay latency: a message sent on one side until the other side's socket has it. Round trip:
the person's message until the counsellor's answer is on the person's page. Throughput:
messages delivered to the other side per second (echo: frames echoed per second).
Targets (issue 12): chat p99 < 100 ms at 500 concurrent conversations; chat throughput >= 0.5x
the echo consumer's.

CPU per 1,000 messages, per phase (printed under the table; measurement only): the load
generator (this process), the uvicorn processes, the PostgreSQL backends connected to the bench
database, and redis-server (the whole server: other users of the same Redis count too), from
/proc, so what limits a phase can be read off: where the CPU went, and how much of the two
cores the phase used.

Uses its own database (outreach_bench_helpline) and Redis DB 12 unless DATABASE_URL /
REDIS_URL are set; it only ever deletes the conversations of its own helpline ("bench-chat").
The per-conversation message rate limit is raised for the run (it would cap a closed loop).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import random
import socket
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass, field

os.environ.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/outreach_bench_helpline")
os.environ.setdefault("REDIS_URL", "redis://127.0.0.1:6379/12")
os.environ.setdefault("CHANNEL_LAYER_PREFIX", "bench-helpline")
os.environ["HELPLINE_MESSAGES_PER_WINDOW"] = "1000000"

import orjson
from _interventions_env import ROOT, ensure_database, table

SLUG = "bench-chat"


# --- seed ----------------------------------------------------------------------------------

def seed(conversations: int, chats_each: int) -> dict:
    """A helpline with enough counsellors, `conversations` active chats, a session each."""
    from importlib import import_module

    from django.conf import settings
    from django.contrib.auth import (
        BACKEND_SESSION_KEY,
        HASH_SESSION_KEY,
        SESSION_KEY,
        get_user_model,
    )
    from django.utils import timezone

    from helpline import sealing
    from helpline.demo import helpline_seed
    from helpline.models import Conversation, ConversationState, Counsellor, Helpline, Message
    from organisations.models import Organisation

    programme, _ = Organisation.objects.get_or_create(
        slug="bench-helpline-programme",
        defaults={"name": "Bench helpline programme", "kind": "programme_owner"})
    helpline = helpline_seed(programme=programme, slug=SLUG, username_prefix="bench-chat-",
                             base_url="http://127.0.0.1")
    Helpline.objects.filter(pk=helpline.pk).update(chats_per_counsellor=chats_each,
                                                   queue_limit=500)
    Conversation.objects.filter(helpline=helpline).delete()  # the bench helpline's only
    vacuum(Conversation, Message)
    needed = math.ceil(conversations / chats_each)
    users = get_user_model().objects
    counsellors = list(Counsellor.objects.filter(helpline=helpline).order_by("pk"))
    for i in range(len(counsellors), needed):
        user, _ = users.get_or_create(username=f"bench-chat-c{i}")
        counsellors.append(Counsellor.objects.create(helpline=helpline, user=user,
                                                     display_name=f"C{i}"))
    counsellors = counsellors[:needed]
    engine = import_module(settings.SESSION_ENGINE)
    sessions = []
    for counsellor in counsellors:
        store = engine.SessionStore()
        store[SESSION_KEY] = str(counsellor.user.pk)
        store[BACKEND_SESSION_KEY] = "django.contrib.auth.backends.ModelBackend"
        store[HASH_SESSION_KEY] = counsellor.user.get_session_auth_hash()
        store.create()
        sessions.append(store.session_key)
    now = timezone.now()
    tokens, rows = [], []
    for i in range(conversations):
        token = sealing.conversation_token()
        _, wrapped = sealing.data_key_new(organisation_id=helpline.organisation_id)
        tokens.append(token)
        rows.append(Conversation(
            helpline=helpline, organisation=helpline.organisation,
            token_hash=sealing.token_hash(token), state=ConversationState.ACTIVE,
            counsellor=counsellors[i // chats_each], answered_at=now, data_key=wrapped,
            created_at=now, person_seen_at=now))
    Conversation.objects.bulk_create(rows)
    return {"tokens": tokens, "ids": [str(r.pk) for r in rows],
            "console_of": [i // chats_each for i in range(conversations)],
            "sessions": sessions, "cookie": settings.SESSION_COOKIE_NAME}


def vacuum(*models: type) -> None:
    """Every run starts from tables without the previous runs' dead rows: a run writes tens of
    thousands of messages and the next run's seed deletes them, and autovacuum firing in the
    middle of a phase (or a bloated index under it) moved PostgreSQL's CPU per message by up
    to 1.8x between back-to-back runs."""
    from django.db import connection

    with connection.cursor() as cursor:
        for model in models:
            cursor.execute(f'VACUUM (ANALYZE) "{model._meta.db_table}"')


# --- server --------------------------------------------------------------------------------

def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Uvicorn:
    """uvicorn on loopback with the bench environment; stopped by its own pid."""

    def __init__(self, *, port: int, workers: int) -> None:
        self.port = port
        command = [sys.executable, "-m", "uvicorn", "_helpline_asgi:application",
                   "--app-dir", str(ROOT / "bench"), "--host", "127.0.0.1", "--port", str(port),
                   "--workers", str(workers), "--loop", "uvloop", "--http", "httptools",
                   "--ws", "websockets-sansio", "--log-level", "warning", "--no-access-log",
                   "--backlog", "4096", "--ws-ping-interval", "0"]
        self.process = subprocess.Popen(command, cwd=ROOT, env=dict(os.environ))

    async def wait_ready(self, timeout: float = 90) -> None:
        import websockets

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                sys.exit(f"uvicorn exited with status {self.process.returncode}")
            try:
                async with websockets.connect(f"ws://127.0.0.1:{self.port}/ws/bench/echo/",
                                              origin=f"http://127.0.0.1:{self.port}"):
                    return
            except OSError:
                await asyncio.sleep(0.3)
        self.stop()
        sys.exit(f"uvicorn did not answer within {timeout:.0f} s")

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.process.kill()


# --- measurement ---------------------------------------------------------------------------

@dataclass
class Result:
    name: str
    seconds: float = 0.0
    delivered: int = 0
    relay: list[float] = field(default_factory=list)
    round_trip: list[float] = field(default_factory=list)
    errors: int = 0
    cpu: dict[str, float] = field(default_factory=dict)  # seconds per component in the phase

    @property
    def throughput(self) -> float:
        return self.delivered / self.seconds if self.seconds else 0.0

    @classmethod
    def pooled(cls, name: str, rounds: list[Result]) -> Result:
        """The rounds of one phase as one: messages over seconds, every latency, CPU summed."""
        pooled = cls(name)
        for r in rounds:
            pooled.seconds += r.seconds
            pooled.delivered += r.delivered
            pooled.relay += r.relay
            pooled.round_trip += r.round_trip
            pooled.errors += r.errors
            for part, seconds in r.cpu.items():
                pooled.cpu[part] = pooled.cpu.get(part, 0.0) + seconds
        return pooled


def pct(values: list[float], q: float) -> float:
    if not values:
        return math.nan
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(q / 100 * len(ordered)) - 1))] * 1000


class CpuMeter:
    """CPU seconds (user + system, from /proc) of the load generator, the server's process
    tree, the bench database's PostgreSQL backends and redis-server."""

    def __init__(self, server_pid: int) -> None:
        import dj_database_url
        import psycopg

        self.server_pid = server_pid
        config = dj_database_url.parse(os.environ["DATABASE_URL"])
        self.database = config["NAME"]
        self.pg = psycopg.connect(host=config["HOST"] or "127.0.0.1", port=config["PORT"] or 5432,
                                  user=config["USER"], dbname="postgres", autocommit=True)
        self.tick = os.sysconf("SC_CLK_TCK")

    def _cpu(self, pid: int) -> float:
        try:
            with open(f"/proc/{pid}/stat") as stat:
                fields = stat.read().rpartition(")")[2].split()
        except OSError:
            return 0.0
        return (int(fields[11]) + int(fields[12])) / self.tick

    def _tree(self, pid: int) -> list[int]:
        found, todo = [], [pid]
        while todo:
            current = todo.pop()
            found.append(current)
            try:
                with open(f"/proc/{current}/task/{current}/children") as children:
                    todo += [int(c) for c in children.read().split()]
            except OSError:
                pass
        return found

    def snapshot(self) -> dict[str, dict[int, float]]:
        backends = [row[0] for row in self.pg.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = %s", [self.database])]
        redis = subprocess.run(["pgrep", "-x", "redis-server"], capture_output=True,
                               text=True).stdout.split()
        return {"client": {0: time.process_time()},
                "server": {p: self._cpu(p) for p in self._tree(self.server_pid)},
                "postgres": {p: self._cpu(p) for p in backends},
                "redis": {int(p): self._cpu(int(p)) for p in redis}}

    @staticmethod
    def spent(before: dict, after: dict) -> dict[str, float]:
        # Per process: a process that appeared during the phase counts from zero.
        return {part: sum(t - before[part].get(p, 0.0) for p, t in after[part].items())
                for part in after}


METER: CpuMeter | None = None


def measured(result: Result, before: dict | None) -> Result:
    if METER is not None and before is not None:
        result.cpu = METER.spent(before, METER.snapshot())
    return result


def meter_start() -> dict | None:
    return METER.snapshot() if METER is not None else None


HANDSHAKES = asyncio.Semaphore(100)  # connect as a crowd arrives, not all in one instant


async def connect(url: str, origin: str, **extra):  # type: ignore[no-untyped-def]
    import websockets

    for attempt in range(20):
        try:
            async with HANDSHAKES:
                return await websockets.connect(url, origin=origin, compression=None,
                                                max_size=2**22, open_timeout=30,
                                                ping_interval=None, **extra)
        except (TimeoutError, OSError):
            await asyncio.sleep(0.2 * (attempt + 1))
    raise SystemExit(f"could not connect to {url}")


async def echo_phase(base: str, origin: str, n: int, duration: float) -> Result:
    sockets = await asyncio.gather(*(connect(f"{base}/ws/bench/echo/", origin) for _ in range(n)))
    result = Result("echo")
    before = meter_start()
    start = time.perf_counter()
    stop = start + duration

    async def loop(ws) -> None:  # type: ignore[no-untyped-def]
        payload = json.dumps({"type": "message", "text": "x" * 60})
        while time.perf_counter() < stop:
            t0 = time.perf_counter()
            await ws.send(payload)
            await ws.recv()
            result.relay.append(time.perf_counter() - t0)
            result.delivered += 1

    await asyncio.gather(*(loop(ws) for ws in sockets))
    result.seconds = time.perf_counter() - start
    measured(result, before)
    await asyncio.gather(*(ws.close() for ws in sockets))
    return result


class Chat:
    """Person sockets and console sockets; readers resolve the futures a sender waits on."""

    def __init__(self, base: str, origin: str, data: dict) -> None:
        self.base, self.origin, self.data = base, origin, data
        self.waiting: dict[tuple[str, str], asyncio.Future] = {}
        self.locks: list[asyncio.Lock] = []
        self.persons: list = []
        self.consoles: list = []
        self.readers: list[asyncio.Task] = []
        self.errors = 0

    async def open(self) -> None:
        data = self.data
        self.consoles = list(await asyncio.gather(*(
            connect(f"{self.base}/ws/helpline/console/", self.origin,
                    additional_headers={"Cookie": f"{data['cookie']}={key}"})
            for key in data["sessions"])))
        self.locks = [asyncio.Lock() for _ in self.consoles]
        self.persons = list(await asyncio.gather(*(
            connect(f"{self.base}/ws/helpline/chat/", self.origin) for _ in data["tokens"])))

        async def hello(ws, token: str) -> None:  # type: ignore[no-untyped-def]
            await ws.send(json.dumps({"type": "hello", "token": token, "after": 0}))
            frame = orjson.loads(await ws.recv())
            if frame.get("type") != "view":
                raise SystemExit(f"person socket: {frame}")

        await asyncio.gather(*(hello(ws, t) for ws, t in zip(self.persons, data["tokens"],
                                                               strict=True)))
        for i, conversation in enumerate(data["ids"]):
            console = self.consoles[data["console_of"][i]]
            await console.send(json.dumps({"type": "watch", "conversation": conversation,
                                           "after": 0}))
        self.readers = [asyncio.create_task(self._read_console(ws)) for ws in self.consoles]
        self.readers += [asyncio.create_task(self._read_person(ws, data["ids"][i]))
                         for i, ws in enumerate(self.persons)]

    def _resolve(self, conversation: str, text: str) -> None:
        future = self.waiting.pop((conversation, text), None)
        if future is not None and not future.done():
            future.set_result(time.perf_counter())

    async def _read_console(self, ws) -> None:  # type: ignore[no-untyped-def]
        async for frame in ws:
            event = orjson.loads(frame)
            if event.get("type") == "messages":
                for message in event["messages"]:
                    if message["sender"] == "person":
                        self._resolve(event["conversation"].replace("-", ""), message["text"])
            elif event.get("type") == "error":
                self.errors += 1

    async def _read_person(self, ws, conversation: str) -> None:  # type: ignore[no-untyped-def]
        key = conversation.replace("-", "")
        async for frame in ws:
            event = orjson.loads(frame)
            if event.get("type") == "view":
                for message in event["messages"]:
                    if message["sender"] == "counsellor":
                        self._resolve(key, message["text"])
            elif event.get("type") == "error":
                self.errors += 1

    async def exchange(self, i: int, k: int, result: Result, *, scheduled: float | None = None
                       ) -> None:
        """One message each way; latency from `scheduled` (open loop) or from the send."""
        loop = asyncio.get_running_loop()
        conversation = self.data["ids"][i]
        key = conversation.replace("-", "")
        text, reply = f"person {i} {k}", f"counsellor {i} {k}"
        seen = self.waiting[(key, text)] = loop.create_future()
        t0 = scheduled if scheduled is not None else time.perf_counter()
        await self.persons[i].send(orjson.dumps({"type": "message", "text": text}).decode())
        async with asyncio.timeout(30):
            t1 = await seen
        answered = self.waiting[(key, reply)] = loop.create_future()
        t2 = time.perf_counter()
        console = self.data["console_of"][i]
        async with self.locks[console]:
            await self.consoles[console].send(orjson.dumps(
                {"type": "message", "conversation": conversation, "text": reply}).decode())
        async with asyncio.timeout(30):
            t3 = await answered
        result.relay += [t1 - t0, t3 - t2]
        result.round_trip.append(t3 - t0)
        result.delivered += 2

    async def closed_loop(self, duration: float) -> Result:
        result = Result("chat, max (closed loop)")
        before = meter_start()
        start = time.perf_counter()
        stop = start + duration

        async def run(i: int) -> None:
            k = 0
            while time.perf_counter() < stop:
                try:
                    await self.exchange(i, k, result)
                except TimeoutError:
                    result.errors += 1
                k += 1

        await asyncio.gather(*(run(i) for i in range(len(self.persons))))
        result.seconds = time.perf_counter() - start
        return measured(result, before)

    async def open_loop(self, duration: float, interval: float, name: str) -> Result:
        result = Result(name)
        before = meter_start()
        start = time.perf_counter()
        rng = random.Random(12)

        async def run(i: int) -> None:
            due, k = start + rng.uniform(0, interval), 10_000
            tasks = []
            while due < start + duration:
                await asyncio.sleep(max(0.0, due - time.perf_counter()))
                tasks.append(asyncio.create_task(self.exchange(i, k, result, scheduled=due)))
                due, k = due + interval, k + 1
            for outcome in await asyncio.gather(*tasks, return_exceptions=True):
                if isinstance(outcome, BaseException):
                    result.errors += 1

        await asyncio.gather(*(run(i) for i in range(len(self.persons))))
        result.seconds = duration
        return measured(result, before)

    async def close(self) -> None:
        for task in self.readers:
            task.cancel()
        await asyncio.gather(*(ws.close() for ws in [*self.persons, *self.consoles]),
                             return_exceptions=True)


@dataclass
class Run:
    echo: list[Result]  # per round
    chat: list[Result]  # per round, closed loop
    paced: Result
    half: Result | None

    def ratios(self) -> list[float]:
        return [c.throughput / e.throughput if e.throughput else math.nan
                for e, c in zip(self.echo, self.chat, strict=True)]


async def main_async(args: argparse.Namespace, data: dict, port: int) -> Run:
    """Echo and chat maximum in alternating rounds (what the machine gives a phase drifts
    within a run: the ratio is judged per round, echo next to chat), then the paced phases."""
    base, origin = f"ws://127.0.0.1:{port}", f"http://127.0.0.1:{port}"
    n = args.conversations
    chat = Chat(base, origin, data)
    await chat.open()
    await chat.exchange(0, -1, Result("warm-up"))
    echo, maximum = [], []
    for _ in range(args.rounds):
        echo.append(await echo_phase(base, origin, n, args.duration))
        maximum.append(await chat.closed_loop(args.duration))
    paced = await chat.open_loop(args.duration, args.interval,
                                 f"chat, paced (1 exchange/{args.interval:g} s each)")
    half = statistics.median(r.throughput for r in maximum) / 2
    half_max = None
    if half > 0:
        interval = 2 * n / half  # two messages per exchange
        half_max = await chat.open_loop(args.duration, interval,
                                        f"chat, paced at half max ({half:.0f} msg/s)")
    await chat.close()
    maximum[-1].errors += chat.errors
    return Run(echo=echo, chat=maximum, paced=paced, half=half_max)


def machine_load() -> str:
    return subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--conversations", type=int, default=500)
    parser.add_argument("--chats-each", type=int, default=2,
                        help="conversations per counsellor console (1-10)")
    parser.add_argument("--duration", type=float, default=10.0)
    parser.add_argument("--rounds", type=int, default=6,
                        help="alternating echo and chat-maximum rounds")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--interval", type=float, default=10.0,
                        help="seconds between exchanges per conversation, paced phase")
    args = parser.parse_args()
    ensure_database()
    data = seed(args.conversations, max(1, min(args.chats_each, 10)))
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass
    port = free_port()
    server = Uvicorn(port=port, workers=args.workers)
    global METER
    METER = CpuMeter(server.process.pid)
    before = machine_load()
    try:
        asyncio.run(server.wait_ready())
        run = asyncio.run(main_async(args, data, port))
    finally:
        server.stop()
    after = machine_load()

    echo = Result.pooled(f"echo (bare consumer), {args.rounds} rounds", run.echo)
    maximum = Result.pooled(f"chat, max (closed loop), {args.rounds} rounds", run.chat)
    results = [echo, maximum, run.paced, *([run.half] if run.half else [])]
    rows = [("phase", "msg/s", "relay p50 ms", "relay p99 ms", "round trip p50", "p99",
             "messages", "errors")]
    for r in results:
        rows.append((r.name, f"{r.throughput:,.0f}", f"{pct(r.relay, 50):.1f}",
                     f"{pct(r.relay, 99):.1f}",
                     f"{pct(r.round_trip, 50):.1f}" if r.round_trip else "-",
                     f"{pct(r.round_trip, 99):.1f}" if r.round_trip else "-",
                     f"{r.delivered:,}", str(r.errors)))
    print(f"\n{args.conversations} concurrent conversations ({args.chats_each} per console), "
          f"uvicorn x{args.workers}, channels-redis, {args.duration:g} s per phase")
    table(rows)
    ratios = run.ratios()
    ratio = statistics.median(ratios)
    print("\nper round (echo, then chat): " + "; ".join(
        f"{e.throughput:,.0f} / {c.throughput:,.0f} msg/s = {q:.2f}x"
        for e, c, q in zip(run.echo, run.chat, ratios, strict=True)))
    print(f"chat max / echo throughput, median of the rounds: {ratio:.2f}x (target >= 0.5x: "
          f"{'met' if ratio >= 0.5 else 'NOT met'})")
    paced = pct(run.paced.relay, 99)
    print(f"relay p99 at {args.conversations} conversations, paced: "
          f"{paced:.1f} ms (target < 100 ms: {'met' if paced < 100 else 'NOT met'})")
    print(f"load before: {before}\nload after:  {after}")
    parts = ("client", "server", "postgres", "redis")
    rows = [("phase", *(f"{p} ms/1k msg" for p in parts), "cores used")]
    for r in results:
        if r.cpu and r.delivered:
            rows.append((r.name, *(f"{1e6 * r.cpu.get(p, 0.0) / r.delivered:,.0f}" for p in parts),
                         f"{sum(r.cpu.values()) / r.seconds:.2f}"))
    print("\nCPU per 1,000 messages delivered (redis: the whole server)")
    table(rows)


if __name__ == "__main__":
    main()
