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

import pytest
from django.conf import settings
from django.core.management import call_command

from outreach.management.commands.demo_seed import DEMO_PASSWORD
from outreach.management.commands.rundemo import summary_lines

pytestmark = pytest.mark.django_db

README = Path(settings.BASE_DIR) / "README.md"
BASE = "http://127.0.0.1:8000"
ADDRESS = re.compile(r"https?://127\.0\.0\.1:8000[^\s'`)|]*")


@pytest.fixture
def demo(settings, monkeypatch) -> dict:
    settings.DEMO_PAGES = True  # rundemo turns the demo pages on for its web server
    # The addresses are the subject here, not the simulated evidence: fewer rows, same story.
    monkeypatch.setattr("evaluation.demo.EXPOSURES", 3_000)
    out = io.StringIO()
    call_command("demo_seed", stdout=out)
    printed = out.getvalue()
    key = re.search(r"Partner API key:\s+(\S+)", printed).group(1)
    return {"printed": printed, "key": key}


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
        login = client.get(path, follow=True)
        assert login.status_code == 200 and b'name="password"' in login.content, address
        username, password = "demo", DEMO_PASSWORD
        done = client.post(login.request["PATH_INFO"] + "?next=" + path,
                           {"username": username, "password": password}, follow=True)
        assert done.status_code == 200 and done.context["user"].is_authenticated, address
        assert b"Campaigns" in done.content, address
    elif path.startswith("/demo/partner/"):
        page = client.get(path)
        assert page.status_code == 200, address
        assert b"outreach-intervention.js" in page.content, address
        assert page.context["partner"].slug == "demo-platform"
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
            f"{BASE}/healthz"} <= readme
    assert printed == readme


def test_every_address_in_the_readme_answers_as_it_says(client, demo) -> None:
    for address in readme_addresses().values():
        check(client, address, key=demo["key"])


def test_every_address_the_demo_prints_answers_with_the_printed_key(client, demo) -> None:
    lines = "\n".join([demo["printed"],
                       *summary_lines(port=8000, mail_port=1025, key=demo["key"])])
    addresses = set(ADDRESS.findall(lines))
    assert f"{BASE}/api/v1/help-resources/?country=GB" in addresses
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
