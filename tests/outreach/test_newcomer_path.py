"""Every address, command and key that the README or `make demo` prints works as printed.

The README's table of addresses, its curl example, the demo's printed summary and the key
printed by the seed are read from their sources (not copied here), so a changed address or
a broken page fails this test instead of a newcomer's first minute.
"""

from __future__ import annotations

import io
import re
import smtplib
import socket
import subprocess
import sys
import time
from email.message import EmailMessage
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from campaigns.models import Campaign
from delivery.fanout import schedule_fan_out
from evaluation.models import Outcome
from evaluation.rollup import rollup_pending
from learning.demo import TEACHER_SLUG
from learning.demo_invitation import CAMPAIGN_NAME as INVITATION_CAMPAIGN
from learning.demo_invitation import TEACHER_RECIPIENTS
from learning.models import Learner
from outreach.management.commands.demo_seed import DEMO_PASSWORD
from outreach.management.commands.rundemo import summary_lines
from tests.delivery.factories import send_until_idle
from tests.delivery.sinks import SmtpSink

pytestmark = pytest.mark.django_db

README = Path(settings.BASE_DIR) / "README.md"
BASE = "http://127.0.0.1:8000"
ADDRESS = re.compile(r"https?://127\.0\.0\.1:8000[^\s'`)|]*")


def seed(settings, monkeypatch) -> dict:  # type: ignore[no-untyped-def]
    settings.DEMO_PAGES = True  # rundemo turns the demo pages on for its web server
    # The addresses are the subject here, not the simulated evidence: fewer rows, same story.
    monkeypatch.setattr("evaluation.demo.EXPOSURES", 3_000)
    out = io.StringIO()
    call_command("demo_seed", stdout=out)
    printed = out.getvalue()
    key = re.search(r"Partner API key:\s+(\S+)", printed).group(1)
    return {"printed": printed, "key": key}


@pytest.fixture
def demo(settings, monkeypatch) -> dict:
    return seed(settings, monkeypatch)


def readme_addresses() -> dict[str, str]:
    """The README's table of what `make demo` serves: {what: address}."""
    rows = {}
    for line in README.read_text().splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if len(cells) == 2 and (found := ADDRESS.search(cells[1])):
            rows[cells[0]] = found.group(0)
    return rows


def path_of(address: str) -> str:
    return address.removeprefix(BASE) or "/"


def check(client, address: str, *, key: str) -> None:
    """What each printed address must answer, as the README describes it."""
    path = path_of(address)
    if path.startswith("/admin/"):
        client.logout()  # each admin address is followed as a newcomer would: signed out
        login = client.get(path, follow=True)
        assert login.status_code == 200 and b'name="password"' in login.content, address
        username, password = "demo", DEMO_PASSWORD
        done = client.post(login.request["PATH_INFO"] + "?next=" + path,
                           {"username": username, "password": password}, follow=True)
        assert done.status_code == 200 and done.context["user"].is_authenticated, address
        assert b"Campaigns" in done.content, address
        if path.endswith("/report/"):  # the invitation campaign's, with its learning section
            assert b'id="learning-gain"' in done.content, address
            assert b'data-stage="enrolled"' in done.content, address
    elif path.startswith("/learn/m/"):
        page = client.get(path)
        assert page.status_code == 200 and page.context["module"].is_public, address
        assert b'id="enrol"' in page.content and page.context["lessons"], address
    elif path.startswith("/demo/partner/"):
        page = client.get(path)
        assert page.status_code == 200, address
        assert b"outreach-intervention.js" in page.content, address
        assert page.context["partner"].slug == "demo-platform"
    elif path.startswith("/help/chat/"):
        page = client.get(path)
        assert page.status_code == 200 and b"quick" in page.content.lower(), address
        assert not page.cookies, "the person's page sets no cookie"
    elif path.startswith("/help/console/"):
        from helpline.demo import DEMO_PASSWORD as COUNSELLOR_PASSWORD

        staff = Client()  # the counsellor's own window
        done = staff.post(f"/admin/login/?next={path}", {"username": "demo-counsellor",
                                                          "password": COUNSELLOR_PASSWORD},
                          follow=True)
        assert done.status_code == 200 and b'id="claim-next"' in done.content, address
    elif path.startswith("/api/docs/"):
        page = client.get(path)
        assert page.status_code == 200 and b"swagger" in page.content.lower(), address
    elif path.startswith("/healthz"):
        health = client.get(path)
        assert health.status_code == 200 and health.json()["status"] == "ok", address
    elif path.startswith("/api/v1/"):
        answer = client.get(path, HTTP_AUTHORIZATION=f"Bearer {key}")
        assert answer.status_code == 200, address
        assert answer.json()["results"], f"{address} lists no help resources"
    else:
        pytest.fail(f"the test does not know what {address} should answer: add it here")


def test_the_readme_lists_the_addresses_the_demo_prints(demo) -> None:
    readme = set(readme_addresses().values())
    printed = set(ADDRESS.findall("\n".join(summary_lines(port=8000, mail_port=1025))))
    assert {f"{BASE}/admin/", f"{BASE}/demo/partner/", f"{BASE}/api/docs/",
            f"{BASE}/healthz", f"{BASE}/help/chat/demo-chat/", f"{BASE}/help/console/"} <= readme
    assert printed == readme


def test_every_address_in_the_readme_answers_as_it_says(client, demo) -> None:
    for address in readme_addresses().values():
        check(client, address, key=demo["key"])


def test_every_address_the_demo_prints_answers_with_the_printed_key(client, demo) -> None:
    lines = "\n".join([demo["printed"],
                       *summary_lines(port=8000, mail_port=1025, key=demo["key"])])
    addresses = set(ADDRESS.findall(lines))
    assert f"{BASE}/api/v1/help-resources/?country=GB" in addresses
    assert any("/learn/m/demo-programme/" in a for a in addresses), "the learning module"
    assert any(a.endswith("/report/") for a in addresses), "the invitation campaign's report"
    for address in addresses:
        check(client, address, key=demo["key"])


def test_the_printed_curl_commands_work_with_the_printed_key(client, demo) -> None:
    commands = [line for line in (README.read_text() + demo["printed"]).splitlines()
                if "curl " in line]
    assert len(commands) >= 2  # the README's and the seed's
    for command in commands:
        header = re.search(r"""-H ['"]Authorization: Bearer ([^'" ]+)""", command).group(1)
        key = demo["key"] if header in ("$KEY", "<key>") else header
        assert key == demo["key"], "the seed prints the key it just issued"
        check(client, ADDRESS.search(command).group(0), key=key)


def test_a_second_seed_issues_a_new_key_and_revokes_the_printed_one(client, demo) -> None:
    out = io.StringIO()
    call_command("demo_seed", stdout=out)
    new_key = re.search(r"Partner API key:\s+(\S+)", out.getvalue()).group(1)
    path = "/api/v1/help-resources/?country=GB"
    assert client.get(path, HTTP_AUTHORIZATION=f"Bearer {new_key}").status_code == 200
    assert client.get(path, HTTP_AUTHORIZATION=f"Bearer {demo['key']}").status_code == 401


def test_a_demo_teacher_follows_the_invitation_email_to_the_certificate_and_the_report_counts_it(
        client, settings, monkeypatch, redis_url) -> None:
    with SmtpSink() as sink:
        settings.EMAIL_PORT = sink.port  # the demo's email channel sends to its mail sink
        seed(settings, monkeypatch)
        campaign = Campaign.objects.get(name=INVITATION_CAMPAIGN)
        # The step `make demo`'s worker sends a minute after seeding: that minute has passed.
        campaign.schedules.update(next_fire_at=timezone.now())
        schedule_fan_out(schedule_id=campaign.schedules.get().pk, now=timezone.now())
        assert send_until_idle().sent == TEACHER_RECIPIENTS
        text = sink.recorder.texts[0]
    # A link may sit in brackets: ")" ends it. The demo's chat helpline is signposted too.
    module_page = next(location for link in re.findall(r"https?://\S+/go/[^\s<>\")]+", text)
                       if "/learn/m/" in (location := client.get(
                           urlsplit(link).path, HTTP_USER_AGENT="Mozilla/5.0")["Location"]))
    page = client.get(module_page)
    module, via = page.context["module"], page.context["via"]
    assert page.status_code == 200 and via and module.slug == TEACHER_SLUG

    home = client.post(urlsplit(module_page).path, {"via": via, "email": ""})["Location"]
    token = home.rstrip("/").rsplit("/", 1)[1]
    questions = list(module.questions.all())
    wrong = {f"q{q.pk}": str((q.correct_choice + 1) % len(q.choices)) for q in questions}
    assert client.post(reverse("learning:check", args=[token, "pre"]), wrong).status_code == 302
    for lesson in module.lessons.all():
        client.post(reverse("learning:lesson", args=[token, lesson.position]))
    right = {f"q{q.pk}": str(q.correct_choice) for q in questions}
    assert client.post(reverse("learning:check", args=[token, "post"]), right).status_code == 302
    pdf = client.post(reverse("learning:certificate", args=[token]), {"name": "Sam Teacher"})
    assert pdf["Content-Type"] == "application/pdf" and pdf.content.startswith(b"%PDF")
    learner = Learner.objects.get(simulated=False)
    assert learner.campaign == campaign and learner.completed_at is not None

    rollup_pending()  # what the beat does
    client.force_login(get_user_model().objects.get(username="manager"))
    report = client.get(reverse("admin:evaluation_campaign_report", args=[campaign.pk]))
    html = report.content.decode()
    assert report.status_code == 200 and "Knowledge gain" in html
    assert 'id="learning-gain"' in html and 'data-stage="completed"' in html
    # The teacher's own enrolment and completion are outcomes of the exposure the email made.
    assert set(Outcome.objects.filter(exposure=learner.exposure).values_list("kind", flat=True)
               ) == {"help_click", "module_enrolled", "module_completed"}
    assert learner.exposure.source == "delivery" and learner.exposure.trigger == ""


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_the_mail_sink_the_readme_names_keeps_what_it_receives(tmp_path) -> None:
    row = next(cell for what, cell in _readme_rows() if what.startswith("Mail sink"))
    assert f"127.0.0.1:{settings.EMAIL_PORT}" in row and "var/mail/" in row
    port = free_port()  # the demo's port may be taken on this machine; same program
    sink = subprocess.Popen([sys.executable, "-m", "outreach.mailsink", "--port", str(port),
                             "--directory", str(tmp_path)], cwd=settings.BASE_DIR,
                            stdout=subprocess.DEVNULL)
    try:
        message = EmailMessage()
        message["From"], message["To"], message["Subject"] = ("demo@example.org",
                                                              "someone@example.org", "Hello")
        message.set_content("A demo message.")
        for _ in range(100):
            try:
                with smtplib.SMTP("127.0.0.1", port, timeout=5) as smtp:
                    smtp.send_message(message)
                break
            except OSError:
                time.sleep(0.1)
        assert [p.suffix for p in tmp_path.iterdir()] == [".eml"]
    finally:
        sink.terminate()
        sink.wait(timeout=10)


def _readme_rows() -> list[tuple[str, str]]:
    rows = []
    for line in README.read_text().splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if len(cells) == 2 and line.startswith("|"):
            rows.append((cells[0], cells[1]))
    return rows
