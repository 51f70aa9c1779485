"""Run the whole demo on this machine: web server, Celery worker and beat, and a mail sink.

Ctrl-C stops all of them.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand

PROCESSES = {
    "mail": [sys.executable, "-m", "outreach.mailsink", "--port", "{mail_port}",
             "--directory", "{var}/mail"],
    "web": [sys.executable, "manage.py", "runserver", "--noreload", "127.0.0.1:{port}"],
    "worker": [sys.executable, "-m", "celery", "-A", "outreach", "worker", "--loglevel", "INFO",
               "--concurrency", "1", "--pool", "solo",
               "-Q", "default,fanout,send,maintenance,evaluation"],
    "beat": [sys.executable, "-m", "celery", "-A", "outreach", "beat", "--loglevel", "INFO",
             "--schedule", "{var}/celerybeat-schedule"],
}


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


class Command(BaseCommand):
    help = "Run web, worker, beat and a local mail sink together (Ctrl-C stops them all)."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--port", type=int, default=8000)
        parser.add_argument("--mail-port", type=int, default=settings.EMAIL_PORT)

    def handle(self, *args: Any, port: int, mail_port: int, **options: Any) -> None:
        values = {"port": port, "mail_port": mail_port, "var": settings.VAR_DIR}
        env = {**os.environ, "PYTHONUNBUFFERED": "1", "DEMO_PAGES": "1"}
        children = {
            name: subprocess.Popen([part.format(**values) for part in command], env=env)
            for name, command in PROCESSES.items()
        }
        self.print_urls(port, mail_port)
        signal.signal(signal.SIGTERM, _interrupt)  # a plain `kill` stops the children too
        try:
            self.wait(children)
        except KeyboardInterrupt:
            self.stdout.write("\nStopping the demo…")
        finally:
            self.stop(children)

    def print_urls(self, port: int, mail_port: int) -> None:
        base = f"http://127.0.0.1:{port}"
        lines = [
            "",
            "Outreach demo is starting:",
            f"  Admin                {base}/admin/   (see the login printed above)",
            f"  Demo partner page    {base}/demo/partner/",
            f"  API docs             {base}/api/docs/",
            f"  Health               {base}/healthz",
            f"  Mail sink            127.0.0.1:{mail_port}, kept in {settings.VAR_DIR}/mail/",
            "Press Ctrl-C to stop everything.",
            "",
        ]
        self.stdout.write("\n".join(lines))

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
