"""Shared set-up for the interventions benchmarks: PostgreSQL + Redis, seed data, gunicorn.

Uses its own database (outreach_bench_interventions) and Redis DB 12 unless DATABASE_URL /
REDIS_URL are set, so it never touches anybody's data. Everything runs on loopback. Keys come
from the environment as in production (fixed benchmark keys unless OUTREACH_*_KEYS are set).
"""

from __future__ import annotations

import base64
import hashlib
import http.client
import os
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from datetime import time as clock
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

os.environ.setdefault("DATABASE_URL",
                      "postgres://postgres@127.0.0.1:5432/outreach_bench_interventions")
os.environ.setdefault("REDIS_URL", "redis://127.0.0.1:6379/12")
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "outreach.settings")
os.environ["DEBUG"] = "0"  # DEBUG keeps every SQL statement in memory: not a real server
os.environ["BENCH_ENDPOINTS"] = "1"
os.environ["ALLOWED_HOSTS"] = "127.0.0.1,localhost"
os.environ.setdefault("LOG_LEVEL", "WARNING")
os.environ.setdefault("INTERVENTIONS_RATE_PER_PARTNER", "100000000/min")
os.environ.setdefault("API_RATE_PER_ORGANISATION", "100000000/min")
os.environ.setdefault("PUBLIC_BASE_URL", "http://127.0.0.1:8000")


def _bench_key(name: str) -> str:
    # Fixed benchmark keys (never real data here), so runs agree on pseudonyms.
    return base64.urlsafe_b64encode(hashlib.sha256(f"outreach-bench-{name}".encode())
                                    .digest()).decode()


# Keys from the environment, as in production (not the development key directory). The
# pseudonym ring holds this month's and the next month's key (a run across midnight works)
# and the arm-assignment key.
_month = datetime.now(UTC).replace(day=28) + timedelta(days=4)
os.environ.setdefault("OUTREACH_PSEUDONYM_KEYS", ",".join(
    f"{month:%Y-%m}:{_bench_key(f'{month:%Y-%m}')}"
    for month in (_month, datetime.now(UTC))) + f",assignment:{_bench_key('assignment')}")
os.environ.setdefault("OUTREACH_FIELD_ENCRYPTION_KEYS", f"bench-1:{_bench_key('field')}")
# The blind-index key id is fixed (core.crypto.BLIND_INDEX_KEY_ID).
os.environ.setdefault("OUTREACH_BLIND_INDEX_KEYS", f"k0001:{_bench_key('blind')}")


def ensure_database() -> None:
    """Create the benchmark database if it does not exist, then migrate it."""
    import dj_database_url
    import psycopg

    config = dj_database_url.parse(os.environ["DATABASE_URL"])
    if "postgresql" not in config["ENGINE"]:
        sys.exit("The interventions benchmarks need PostgreSQL: set DATABASE_URL=postgres://…")
    admin = psycopg.connect(host=config["HOST"] or "127.0.0.1", port=config["PORT"] or 5432,
                            user=config["USER"] or "postgres", password=config["PASSWORD"] or None,
                            dbname="postgres", autocommit=True)
    with admin:
        exists = admin.execute("SELECT 1 FROM pg_database WHERE datname = %s",
                               [config["NAME"]]).fetchone()
        if not exists:
            admin.execute(f'CREATE DATABASE "{config["NAME"]}"')
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def seed() -> dict:
    """A running on-platform campaign for a bench partner, with a small directory."""
    from django.utils import timezone

    from campaigns.models import Arm, Campaign, Flight, Message
    from directory.models import HelpResource, LegalNotice, OpeningHours, Statute
    from organisations.models import ApiScope, Organisation, Partnership
    from organisations.services import Actor, api_key_create
    from segments.models import Segment

    now = timezone.now()
    programme, _ = Organisation.objects.get_or_create(
        slug="bench-programme", defaults={"name": "Bench Programme", "kind": "programme_owner"})
    partner, _ = Organisation.objects.get_or_create(
        slug="bench-partner", defaults={"name": "Bench Partner", "kind": "partner_platform"})
    Partnership.objects.update_or_create(programme=programme, partner=partner, defaults={
        "triggers": ["search_blocked_term", "upload_blocked"]})
    _, secret = api_key_create(organisation=partner, name="bench", actor=Actor.system(),
                               scopes=[ApiScope.INTERVENTIONS_WRITE, ApiScope.OUTCOMES_WRITE])
    campaign = Campaign.objects.filter(organisation=programme, name="Bench warning").first()
    if campaign is None:
        campaign = Campaign.objects.create(organisation=programme, name="Bench warning",
                                           channels=["on_platform"], languages=["en"])
        campaign.partners.add(partner)
        Flight.objects.create(campaign=campaign, starts_at=now - timedelta(days=1))
        segment = Segment.objects.create(organisation=programme, name="Bench UK", stage="at_risk",
                                         rule='country in ("GB", "IE") and trigger != "x"',
                                         status="ready")
        campaign.segments.add(segment)
        message = Message.objects.create(
            organisation=programme, name="Bench warning", channel="on_platform", language="en",
            framing="legal_deterrence", subject="This search may be illegal",
            body="Viewing sexual images of children is a crime.\n\n"
                 "Confidential help: {{ help_link }}")
        arm = Arm.objects.create(campaign=campaign, name="legal", weight=9)
        arm.messages.add(message)
        Arm.objects.create(campaign=campaign, name="holdout", kind="holdout", weight=1)
        common = {"organisation": programme, "source_status": "verified", "confirmed_at": now,
                  "audiences": ["at_risk_self"], "languages": ["en"]}
        line = HelpResource.objects.create(
            slug="bench-line", name="Bench helpline", kind="helpline", countries=["GB"],
            phone="+448081000900", url="https://www.stopitnow.org.uk/helpline/",
            time_zone="Europe/London", **common)
        for weekday in range(1, 8):
            OpeningHours.objects.create(resource=line, weekday=weekday, opens=clock(0),
                                        closes=clock(0))
        HelpResource.objects.create(slug="bench-self-help", name="Bench self-help",
                                    kind="self_help_programme", countries=["*"],
                                    url="https://troubled-desire.com/", **common)
        notice = LegalNotice.objects.create(organisation=programme, jurisdiction="GB-ENG",
                                            also_applies_to=["GB"])
        Statute.objects.create(notice=notice, name="Protection of Children Act 1978",
                               section="s.1", offence_summary="Indecent images of children.",
                               max_penalty="10 years")
    Campaign.objects.filter(pk=campaign.pk).update(status="running")
    HelpResource.objects.filter(organisation=programme).update(confirmed_at=now)
    return {"secret": secret, "referral_code": campaign.referral_code, "campaign": campaign,
            "partner": partner, "programme": programme}


class Server:
    """gunicorn on loopback with the benchmark environment; stopped by its own pid."""

    def __init__(self, *, port: int, workers: int, worker_class: str, threads: int) -> None:
        self.port = port
        command = [str(ROOT / ".venv/bin/gunicorn"), "outreach.wsgi:application",
                   "--bind", f"127.0.0.1:{port}", "--workers", str(workers),
                   "--worker-class", worker_class, "--threads", str(threads),
                   "--keep-alive", "30", "--log-level", "warning", "--backlog", "2048"]
        self.process = subprocess.Popen(command, cwd=ROOT, env=dict(os.environ))
        self.wait_ready()

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def wait_ready(self, timeout: float = 120) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                sys.exit(f"gunicorn exited with status {self.process.returncode}")
            connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=2)
            try:
                connection.request("GET", "/bench/bare")
                if connection.getresponse().status == 200:
                    return
            except OSError:
                time.sleep(0.3)
            finally:
                connection.close()
        self.stop()
        sys.exit(f"gunicorn did not answer within {timeout:.0f} s")

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.process.kill()


def table(rows: list[tuple[str, ...]]) -> None:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for number, row in enumerate(rows):
        print("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)))
        if number == 0:
            print("  ".join("-" * width for width in widths))
