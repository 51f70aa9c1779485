"""Real processes for fault tests: a private redis-server, Celery workers and beat.

Each test gets its own redis-server on a free port (so restarting it disturbs nobody), and the
workers use the pytest-django test database, so they see what a `transaction=True` test commits.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from django.db import connection

from tests.delivery.sinks import free_port

ROOT = Path(__file__).resolve().parents[2]
CELERY = str(Path(sys.executable).with_name("celery"))


def wait_for(condition: Callable[[], bool], *, timeout: float, what: str,
             every: float = 0.2) -> None:
    ends = time.monotonic() + timeout
    while time.monotonic() < ends:
        if condition():
            return
        time.sleep(every)
    raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}")


class RedisServer:
    def __init__(self) -> None:
        self.port = free_port()
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}"

    def start(self) -> None:
        self.process = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--daemonize", "no"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        import redis

        client = redis.Redis.from_url(self.url, socket_timeout=1)
        wait_for(lambda: _pings(client), timeout=10, what="redis-server to start")

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.kill()  # an abrupt stop: nothing is saved
            self.process.wait(10)

    def restart(self, *, down_seconds: float = 0.0) -> None:
        """Kill the server, stay down for `down_seconds` (clients see refused connections), and
        start it again on the same port with nothing kept."""
        self.stop()
        time.sleep(down_seconds)
        self.start()


def _pings(client) -> bool:  # type: ignore[no-untyped-def]
    try:
        return bool(client.ping())
    except Exception:
        return False


def database_url() -> str:
    db = connection.settings_dict
    password = f":{db['PASSWORD']}" if db.get("PASSWORD") else ""
    return (f"postgres://{db['USER']}{password}@{db['HOST'] or '127.0.0.1'}:"
            f"{db['PORT'] or 5432}/{db['NAME']}")


def worker_env(redis: RedisServer, **overrides: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update({
        "DATABASE_URL": database_url(),
        "REDIS_URL": f"{redis.url}/0",
        "CACHE_URL": f"{redis.url}/0",
        "CELERY_BROKER_URL": f"{redis.url}/1",
        "DELIVERY_TICK_SECONDS": "1",
        "DELIVERY_LEASE_SECONDS": "8",
        "DELIVERY_LEASE_MARGIN_SECONDS": "3",
        "DELIVERY_LANE_SECONDS": "3",
        "DELIVERY_BATCH_SIZE": "100",
        "DELIVERY_RETRY_BASE_SECONDS": "1",
        "DELIVERY_RETRY_MAX_SECONDS": "4",
        "LOG_LEVEL": "WARNING",
        "PYTHONUNBUFFERED": "1",
    })
    env.update(overrides)
    return env


class Process:
    def __init__(self, args: list[str], env: dict[str, str], name: str) -> None:
        self.args, self.env, self.name = args, env, name
        handle, path = tempfile.mkstemp(prefix=f"{name}-", suffix=".log")
        self.log = os.fdopen(handle, "w")
        self.log_path = path
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        self.process = subprocess.Popen(self.args, env=self.env, cwd=ROOT, stdout=self.log,
                                        stderr=subprocess.STDOUT, start_new_session=True)

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def kill_hard(self) -> list[int]:
        """SIGKILL the process and every child at once (a machine losing power, in effect)."""
        victims = [*descendants(self.pid), self.pid]
        for pid in victims:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        assert self.process is not None
        self.process.wait(10)
        return victims

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.kill_hard()

    @property
    def running(self) -> bool:
        """Still alive by itself: nobody restarts a worker from outside in these tests."""
        return self.process is not None and self.process.poll() is None

    def output(self) -> str:
        return Path(self.log_path).read_text(errors="replace")[-4000:]


def descendants(pid: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        children.setdefault(int(fields[1]), []).append(int(entry.name))
    found: list[int] = []
    stack = [pid]
    while stack:
        for child in children.get(stack.pop(), []):
            found.append(child)
            stack.append(child)
    return found


def worker(env: dict[str, str], name: str = "w1", concurrency: int = 2) -> Process:
    return Process([CELERY, "-A", "outreach", "worker", "-Q", "default,fanout,send,maintenance",
                    "-c", str(concurrency), "-n", f"{name}@%h", "--without-gossip",
                    "--without-mingle", "-l", "warning"], env, name)


def beat(env: dict[str, str]) -> Process:
    schedule = str(Path(tempfile.mkdtemp(prefix="beat-")) / "schedule")
    return Process([CELERY, "-A", "outreach", "beat", "-s", schedule, "-l", "warning"], env,
                   "beat")
