"""Done-when: a teacher gets a campaign email (captured at the SMTP sink), follows its signed
link through /go/ to a learning module, answers the questions before, reads the lessons,
answers the same questions after, downloads the certificate; every page passes axe-core
(WCAG 2 A/AA) and fits a phone's width; the campaign's report then shows the enrolment, the
completion and the knowledge gain.

Needs Debian's chromium; skipped on a bare machine without it, failed in CI (CI=true).
axe-core is vendored in tests/learning/assets (see its README) so no network is needed.
"""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from campaigns.models import Message
from delivery.fanout import schedule_fan_out
from evaluation.models import DisclosureSettings, EvaluationPlan, Outcome
from evaluation.rollup import rollup_pending
from learning.services import module_public_path
from organisations.services import Actor
from segments.services import segment_create
from tests.conftest import make_tenant
from tests.delivery.factories import channel_config, recipients, send_until_idle, sending_campaign
from tests.delivery.sinks import SmtpSink
from tests.interventions.test_browser import CHROMIUM_ARGS, NO_NETWORK_BUT_LOOPBACK, chromium_path
from tests.learning.factories import published_module

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
__all__ = ["chromium_path"]  # the fixture, shared with the interventions browser test

AXE = Path(__file__).parent / "assets" / "axe.min.js"
PHONE = {"width": 390, "height": 844}
INVITATION = ("Dear colleague,\n\nA free module on recognising and responding to concerns:\n"
              "{% for resource in help_resources %}{{ resource.name }}: {{ resource.url }}\n"
              "{% endfor %}\nStop these messages: {{ opt_out_link }}")


def axe_violations(page) -> list[str]:  # type: ignore[no-untyped-def]
    page.add_script_tag(path=str(AXE))
    return page.evaluate("""async () => {
        const result = await axe.run(document, {runOnly: ['wcag2a', 'wcag2aa', 'wcag21aa']});
        return result.violations.map(v => v.id + ': ' + v.nodes.map(n => n.target).join(' '));
    }""")


def fits_the_screen(page) -> bool:  # type: ignore[no-untyped-def]
    return page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")


def check_page(page, seen: dict) -> None:  # type: ignore[no-untyped-def]
    seen[urlsplit(page.url).path] = (axe_violations(page), fits_the_screen(page))


def campaign_email(tenant, live_server) -> tuple[object, str]:  # type: ignore[no-untyped-def]
    segment_create(organisation=tenant.organisation, name="UK audience", stage="professional",
                   rule='country = "GB"', actor=Actor.system())
    recipients(tenant.organisation, 1, stage="professional")
    built = sending_campaign(tenant.organisation)
    Message.objects.filter(arms__campaign=built.campaign).update(
        body=INVITATION, subject="Training for teachers")
    with SmtpSink() as sink:
        channel_config(tenant.organisation, settings={
            "host": "127.0.0.1", "port": sink.port, "from_email": "training@example.org"})
        schedule_fan_out(schedule_id=built.schedule.pk, now=timezone.now())
        assert send_until_idle().sent == 1
        text = sink.recorder.texts[0]
    links = re.findall(r"https?://\S+/go/\S+", text)
    assert len(links) == 1, text
    return built.campaign, links[0]


def test_a_teacher_follows_a_campaign_email_through_a_module_to_the_certificate(
        chromium_path, live_server, settings, monkeypatch):
    from playwright.sync_api import sync_playwright

    settings.PUBLIC_BASE_URL = live_server.url
    tenant = make_tenant("Prevention Programme A")
    module = published_module(tenant)  # its directory entry is hosted on the live server
    DisclosureSettings.objects.create(organisation=tenant.organisation, enabled=False)
    campaign, link = campaign_email(tenant, live_server)
    EvaluationPlan.objects.create(
        campaign=campaign, hypothesis="Invited teachers complete the module.",
        secondary_outcomes=["module_enrolled", "module_completed"],
        comparator_rationale="Single arm (demonstration).", baseline_rate=0.1,
        minimum_detectable_effect=0.5)
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    seen: dict = {}
    # Read before the browser starts: inside Playwright's sync block Django may resolve another
    # (context-local) connection, which an earlier test's clean-up can have ended.
    questions = [(q.pk, q.correct_choice) for q in module.questions.all()]
    lessons = module.lessons.count()
    module_path = module_public_path(module)

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium_path,
                                    args=[*CHROMIUM_ARGS, NO_NETWORK_BUT_LOOPBACK])
        context = browser.new_context(viewport=PHONE, accept_downloads=True)
        page = context.new_page()
        page.goto(live_server.url + urlsplit(link).path)  # /go/<token> -> the module, ?via=
        assert "/learn/m/" in page.url and "via=" in page.url
        check_page(page, seen)
        page.focus("#email")  # keyboard only: Tab to the button, Enter to start
        page.keyboard.press("Tab")
        assert page.evaluate("document.activeElement.id") == "enrol"
        page.keyboard.press("Enter")
        page.wait_for_url(re.compile(r".*/learn/r/[^/]+/$"))
        check_page(page, seen)
        page.click("#next")  # the questions before the module
        check_page(page, seen)
        for pk, right in questions:  # a wrong answer each time
            page.check(f"#q{pk}-{(right + 1) % 2}")
        page.click("#submit-answers")
        page.click("#next")  # first lesson
        check_page(page, seen)
        for _ in range(lessons):
            page.click("#lesson-done")
        page.click("#next")  # the same questions after
        for pk, right in questions:
            page.check(f"#q{pk}-{right}")
        page.click("#submit-answers")
        page.click("#next")  # certificate and mentoring
        check_page(page, seen)
        page.fill("#name", "Alex Teacher")
        with page.expect_download() as download:
            page.click("#download")
        pdf = Path(download.value.path()).read_bytes()
        page.goto(live_server.url + module_path)  # a learner who lost their link
        page.click("#lost-link")
        check_page(page, seen)
        page.fill("#email", "someone@example.org")
        page.click("#send-link")
        check_page(page, seen)
        browser.close()

    assert pdf.startswith(b"%PDF")
    assert len(seen) == 6, list(seen)  # the new-link form and its answer share an address
    assert {path: v for path, v in seen.items() if v != ([], True)} == {}
    kinds = sorted(Outcome.objects.filter(campaign=campaign).values_list("kind", flat=True))
    assert kinds == ["help_click", "module_completed", "module_enrolled"]  # one exposure

    rollup_pending()
    staff = Client()
    staff.force_login(tenant.manager)
    html = staff.get(reverse("admin:evaluation_campaign_report", args=[campaign.pk])).content
    html = html.decode()
    assert 'data-stage="enrolled">1<' in html and 'data-stage="completed">1<' in html
    assert "Knowledge gain" in html
    gain = re.search(r'<table id="learning-gain">.*?</table>', html, re.S).group(0)
    assert "0.00" in gain and "1.00" in gain  # mean score before and after
    report = staff.get(reverse("admin:evaluation_campaign_report_json",
                               args=[campaign.pk])).json()
    arm = report["arms"][0]
    assert arm["outcomes"]["module_enrolled"]["value"] == 1
    assert arm["outcomes"]["module_completed"]["value"] == 1
