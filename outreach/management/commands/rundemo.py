"""Run the whole demo on this machine: web server, Celery worker and beat, and a mail sink.

The web server is uvicorn with outreach.asgi (pages and the helpline's WebSockets in one
process, in-memory channel layer); static files come through WhiteNoise as under gunicorn.

With --seed it seeds the demo first (as `demo_seed`) and prints the login, the new partner key
and the addresses once the web server answers, after the workers' start-up banners, so the key
does not scroll away. Ctrl-C stops all of them.
"""

from __future__ import annotations

import http.client
import os
import signal
import subprocess
import sys
import time
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand
from django.urls import reverse

from helpline.demo import DEMO_PASSWORD as HELPLINE_PASSWORD
from outreach.management.commands import demo_seed

HELPLINE_LOGIN = "demo-counsellor"

PROCESSES = {
    "mail": [sys.executable, "-m", "outreach.mailsink", "--port", "{mail_port}",
             "--directory", "{var}/mail"],
    # One ASGI process serves the pages and the helpline's WebSockets, with the in-memory
    # channel layer (see WEB_ENV): the chat's notifications stay inside this process.
    "web": [sys.executable, "-m", "uvicorn", "outreach.asgi:application", "--host", "127.0.0.1",
            "--port", "{port}", "--ws", "websockets-sansio", "--log-level", "info"],
    "worker": [sys.executable, "-m", "celery", "-A", "outreach", "worker", "--loglevel", "INFO",
               "--concurrency", "1", "--pool", "solo",
               "-Q", "default,fanout,send,maintenance,evaluation"],
    "beat": [sys.executable, "-m", "celery", "-A", "outreach", "beat", "--loglevel", "INFO",
             "--schedule", "{var}/celerybeat-schedule"],
}


STARTUP_GRACE_SECONDS = 3.0
WEB_ENV = {"CHANNEL_LAYER_URL": ""}  # the in-memory channel layer, even when REDIS_URL is set


def summary_lines(*, port: int, mail_port: int, key: str | None = None) -> list[str]:
    """The addresses (and, after --seed, the login and key), printed last. Tests follow each."""
    base = f"http://127.0.0.1:{port}"
    login = (demo_seed.credential_lines(key=key, base=base) if key else
             ["  Admin login:       see the login printed by demo_seed"])
    return [
        "",
        "Outreach demo is running:",
        f"  Admin                {base}/admin/",
        f"  Demo partner page    {base}/demo/partner/",
        f"  Helpline chat        {base}{reverse('helpline:chat', args=['demo-chat'])} "
        "(the person's page: open it in one window)",
        f"  Counsellor console   {base}{reverse('helpline:console')} (in another window) "
        f"- {HELPLINE_LOGIN} / {HELPLINE_PASSWORD}",
        f"  API docs             {base}/api/docs/",
        f"  Health               {base}/healthz",
        f"  Mail sink            127.0.0.1:{mail_port}, kept in {settings.VAR_DIR}/mail/",
        *login,
        "Press Ctrl-C to stop everything.",
        "",
    ]


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


class Command(BaseCommand):
    help = "Run web, worker, beat and a local mail sink together (Ctrl-C stops them all)."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--port", type=int, default=8000)
        parser.add_argument("--mail-port", type=int, default=settings.EMAIL_PORT)
        parser.add_argument("--seed", action="store_true",
                            help="seed the demo first and print its login and a new partner key")

    def handle(self, *args: Any, port: int, mail_port: int, seed: bool,
               **options: Any) -> None:
        key = None
        if seed:
            seeder = demo_seed.Command(stdout=self.stdout, stderr=self.stderr)
            key = seeder.seed()["partner_key"]
        values = {"port": port, "mail_port": mail_port, "var": settings.VAR_DIR}
        env = {**os.environ, "PYTHONUNBUFFERED": "1", "DEMO_PAGES": "1"}
        children = {
            name: subprocess.Popen([part.format(**values) for part in command],
                                   env={**env, **WEB_ENV} if name == "web" else env)
            for name, command in PROCESSES.items()
        }
        self.wait_ready(port, children)
        self.stdout.write("\n".join(summary_lines(port=port, mail_port=mail_port, key=key)))
        signal.signal(signal.SIGTERM, _interrupt)  # a plain `kill` stops the children too
        try:
            self.wait(children)
        except KeyboardInterrupt:
            self.stdout.write("\nStopping the demo…")
        finally:
            self.stop(children)

    def wait_ready(self, port: int, children: dict[str, subprocess.Popen],
                   timeout: float = 60) -> None:
        """Until the web server answers (then a moment for the workers' banners)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and all(c.poll() is None for c in children.values()):
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            try:
                connection.request("GET", "/healthz")
                connection.getresponse().read()
                time.sleep(STARTUP_GRACE_SECONDS)
                return
            except OSError:
                time.sleep(0.5)
            finally:
                connection.close()

    def wait(self, children: dict[str, subprocess.Popen]) -> None:
        while True:
            for name, child in children.items():
                if child.poll() is not None:
                    self.stderr.write(f"{name} exited with {child.returncode}; stopping the demo")
                    return
            time.sleep(0.5)

    def stop(self, children: dict[str, subprocess.Popen]) -> None:
        for child in children.values():
            if child.poll() is None:
                child.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + 10
        for child in children.values():
            remaining = max(0.1, deadline - time.monotonic())
            try:
                child.wait(timeout=remaining)
            except subprocess.TimeoutExpired:
                child.kill()
