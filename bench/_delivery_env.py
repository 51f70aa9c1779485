"""Shared set-up for the delivery benchmarks: a fresh PostgreSQL database, a private
redis-server, local SMTP and HTTP sinks in their own processes, Celery workers and beat.

Uses its own database (outreach_bench_delivery) and a redis-server on a free loopback port, so
it never touches anybody's data. Everything runs on loopback and every loop is bounded.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

os.environ.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/outreach_bench_delivery")
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "outreach.settings")
os.environ["DEBUG"] = "0"  # DEBUG keeps every SQL statement in memory
os.environ.setdefault("LOG_LEVEL", "WARNING")
CELERY = str(Path(sys.executable).with_name("celery"))


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_for(condition: Callable[[], bool], *, timeout: float, every: float = 0.05) -> bool:
    ends = time.monotonic() + timeout
    while time.monotonic() < ends:
        if condition():
            return True
        time.sleep(every)
    return False


def fresh_database() -> None:
    """Drop and re-create the benchmark database, then migrate it."""
    import dj_database_url
    import psycopg

    config = dj_database_url.parse(os.environ["DATABASE_URL"])
    if "postgresql" not in config["ENGINE"]:
        sys.exit("The delivery benchmarks need PostgreSQL: set DATABASE_URL=postgres://…")
    admin = psycopg.connect(host=config["HOST"] or "127.0.0.1", port=config["PORT"] or 5432,
                            user=config["USER"] or "postgres",
                            password=config["PASSWORD"] or None, dbname="postgres",
                            autocommit=True)
    with admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{config["NAME"]}" WITH (FORCE)')
        admin.execute(f'CREATE DATABASE "{config["NAME"]}"')
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


class Processes:
    """Child processes started by the benchmark, all stopped (SIGKILL) at the end."""

    def __init__(self) -> None:
        self.children: list[subprocess.Popen] = []
        self.names: list[str] = []
        self.logdir = Path(tempfile.mkdtemp(prefix="bench-delivery-"))

    def start(self, args: list[str], name: str, env: dict | None = None) -> subprocess.Popen:
        log = (self.logdir / f"{name}.log").open("w")
        child = subprocess.Popen(args, cwd=ROOT, env=env or os.environ.copy(), stdout=log,
                                 stderr=subprocess.STDOUT, start_new_session=True)
        self.children.append(child)
        self.names.append(name)
        return child

    def stop_all(self) -> None:
        for child in self.children:
            if child.poll() is None:
                os.killpg(child.pid, signal.SIGKILL)
                child.wait(10)

    def __enter__(self) -> Processes:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop_all()


def start_redis(processes: Processes) -> str:
    import redis

    port = free_port()
    processes.start(["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                     "--appendonly", "no"], "redis")
    client = redis.Redis(port=port)
    wait_for(lambda: _ping(client), timeout=10)
    return f"redis://127.0.0.1:{port}"


def _ping(client) -> bool:  # type: ignore[no-untyped-def]
    try:
        return bool(client.ping())
    except Exception:
        return False


def worker_env(redis_url: str, **extra: str) -> dict[str, str]:
    env = os.environ.copy()
    env.update({"REDIS_URL": f"{redis_url}/0", "CACHE_URL": f"{redis_url}/0",
                "CELERY_BROKER_URL": f"{redis_url}/1", "DELIVERY_TICK_SECONDS": "1", **extra})
    return env


def start_workers(processes: Processes, env: dict[str, str], count: int = 2) -> None:
    """`count` worker processes (prefork, one child each) and beat."""
    for n in range(count):
        processes.start([CELERY, "-A", "outreach", "worker", "-Q",
                         "default,fanout,send,maintenance", "-c", "1", "-n", f"bench{n}@%h",
                         "--without-gossip", "--without-mingle", "-l", "warning"],
                        f"worker{n}", env)
    schedule = str(processes.logdir / "beat-schedule")
    processes.start([CELERY, "-A", "outreach", "beat", "-s", schedule, "-l", "warning"],
                    "beat", env)


def start_sinks(processes: Processes) -> tuple[int, int]:
    smtp, http = free_port(), free_port()
    helper = str(ROOT / "bench" / "_delivery_sinks.py")
    processes.start([sys.executable, helper, "smtp", str(smtp)], "smtp-sink")
    processes.start([sys.executable, helper, "http", str(http)], "http-sink")
    for port in (smtp, http):
        wait_for(lambda p=port: _listening(p), timeout=10)
    return smtp, http


def _listening(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
        return True
    except OSError:
        return False


def cpu_seconds(processes: Processes) -> dict[str, float]:
    """CPU seconds used so far by each group of processes: the benchmark's children (workers,
    beat, sinks, redis, each with its own children: they run in their own process group) and
    every PostgreSQL process."""
    groups = {child.pid: name.rstrip("0123456789")
              for child, name in zip(processes.children, processes.names, strict=True)}
    ticks = os.sysconf("SC_CLK_TCK")
    totals: dict[str, float] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        comm = stat[stat.index("(") + 1:stat.rindex(")")]
        fields = stat[stat.rindex(")") + 2:].split()  # fields[2]: process group
        group = groups.get(int(fields[2])) or (
            "postgres (whole server)" if comm == "postgres" else None)
        if group is not None:
            # utime + stime, and cutime + cstime of children that ended (e.g. PostgreSQL
            # backends of connections closed after each task)
            used = sum(int(value) for value in fields[11:15]) / ticks
            totals[group] = totals.get(group, 0.0) + used
    return totals


def table(title: str, rows: list[tuple[str, str]]) -> None:
    width = max(len(name) for name, _ in rows)
    print(f"\n{title}")
    print("-" * (width + 24))
    for name, value in rows:
        print(f"{name:<{width}}  {value:>20}")
