"""Manager metrics in the admin: disclosed counts, charts, CSV; tenancy and roles."""

from __future__ import annotations

import csv
import io
from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.urls import reverse
from django.utils import timezone

from core.disclosure import DisclosurePolicy
from helpline import metrics
from helpline.models import ContactRecord, Conversation, ConversationState
from organisations.models import Membership, Organisation
from tests.helpline.factories import helpline_world

pytestmark = pytest.mark.usefixtures("postgres")


def _conversations(w, *, day, answered=0, abandoned=0, waiting=0, caller="own_thoughts",
                   campaign=None, wait_minutes=3, chat_minutes=20):
    """Rows as the services leave them (the services' own tests cover how they get there)."""
    base = timezone.now().replace(hour=10, minute=0, second=0, microsecond=0) - timedelta(days=day)
    rows = []
    for i in range(answered + abandoned + waiting):
        created = base + timedelta(minutes=i)
        row = Conversation(helpline=w.helpline, organisation=w.helpline.organisation,
                           caller_type=caller, campaign=campaign, created_at=created,
                           person_seen_at=created)
        if i < answered:
            row.state = ConversationState.ENDED
            row.answered_at = created + timedelta(minutes=wait_minutes + i % 3)
            row.ended_at = row.answered_at + timedelta(minutes=chat_minutes)
        elif i < answered + abandoned:
            row.state, row.ended_at = ConversationState.ABANDONED, created + timedelta(minutes=2)
        rows.append(row)
    Conversation.objects.bulk_create(rows)
    return rows


def _manager(organisation, username="metrics-manager", role="manager"):
    user = get_user_model().objects.create_user(username=username, password="x", is_staff=True)
    Membership.objects.create(user=user, organisation=organisation, role=role)
    return user


def _world():
    w = helpline_world(online=False)
    _conversations(w, day=1, answered=30, abandoned=12, campaign=w.world.campaign)
    _conversations(w, day=2, answered=25, abandoned=3, waiting=0, caller="someone_else")
    _conversations(w, day=3, answered=4, caller="survivor")  # small everywhere
    return w


def _shown(w, policy=None):
    start, end = metrics.period(days=7)
    return metrics.helpline_metrics(helpline=w.helpline, policy=policy or DisclosurePolicy(),
                                    start=start, end=end)


def test_counts_are_rounded_small_ones_suppressed_and_waits_hidden_with_them():
    w = _world()
    shown = _shown(w)
    total = shown.total
    assert total.cells["offered"].display == "75"  # 42 + 28 + 4 = 74, rounded to 5
    survivor = next(r for r in shown.caller_types if r.label == "Survivor")
    assert survivor.cells["offered"].display == "<10"
    assert survivor.wait_p50 is None and survivor.duration_p50 is None
    day3 = shown.days[-4]
    assert day3.cells["answered"].suppressed and day3.wait_p90 is None
    # Nothing published is an exact small count, and every figure shown is a multiple of 5.
    for row in [*shown.days, *shown.caller_types, *shown.campaigns, total]:
        for cell in row.cells.values():
            assert cell.suppressed or cell.value == 0 or cell.value % 5 == 0
    # Abandoned on day 2 (3) is small: its complement keeps day 2's answered from giving it
    # away by subtraction from the (shown) offered count.
    day2 = shown.days[-3]
    assert day2.cells["abandoned"].display == "<10"
    campaign = next(r for r in shown.campaigns if r.label == w.world.campaign.name)
    assert campaign.cells["offered"].display == "40"
    # Its answered count is a complement here, so its wait goes with it; the total's stays.
    assert campaign.cells["answered"].display == "[c]" and campaign.wait_p50 is None
    assert (total.wait_p50, total.duration_p50) == (4.0, 20.0)


def test_the_caller_type_comes_from_the_contact_record_when_there_is_one():
    w = helpline_world(online=False)
    rows = _conversations(w, day=1, answered=12, caller="not_said")
    for row in rows:
        ContactRecord.objects.create(helpline=w.helpline, conversation=row,
                                     caller_type="professional", day=row.created_at.date())
    shown = _shown(w)
    assert [r.label for r in shown.caller_types] == ["Professional"]
    assert shown.caller_types[0].cells["answered"].display == "10"


def test_percentiles_are_observed_values():
    assert metrics.percentile([], 50) is None
    assert metrics.percentile([5.0, 1.0, 3.0, 2.0], 50) == 2.0
    assert metrics.percentile([float(i) for i in range(1, 11)], 90) == 9.0


def test_the_admin_page_has_charts_and_tables_and_the_csv_the_same_figures(client):
    w = _world()
    client.force_login(_manager(w.helpline.organisation))
    page = client.get(reverse("admin:helpline_metrics", args=[w.helpline.pk]))
    assert page.status_code == 200
    html = page.content.decode()
    assert html.count('src="data:image/svg+xml;base64,') == 4
    assert "Survivor" in html and "&lt;10" in html
    listing = client.get(reverse("admin:helpline_helpline_changelist"))
    assert reverse("admin:helpline_metrics", args=[w.helpline.pk]) in listing.content.decode()

    response = client.get(reverse("admin:helpline_metrics_csv", args=[w.helpline.pk]) + "?days=7")
    assert response.status_code == 200 and response["Content-Type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(response.content.decode())))
    assert rows[0] == metrics.CSV_HEADER
    total = next(r for r in rows if r[0] == "total")
    assert total[2] == "75"
    survivor = next(r for r in rows if r[1] == "Survivor")
    assert survivor[2:5] == ["<10", "<10", "0"] and survivor[5:] == ["", "", ""]
    assert "74" not in response.content.decode().split(",")


def test_another_organisations_manager_gets_404_and_a_viewer_403(client):
    w = _world()
    other = Organisation.objects.create(slug="other-helpline-org", name="Other", kind="helpline")
    client.force_login(_manager(other, "other-manager"))
    for name in ("admin:helpline_metrics", "admin:helpline_metrics_csv"):
        assert client.get(reverse(name, args=[w.helpline.pk])).status_code == 404
    client.force_login(_manager(w.helpline.organisation, "a-viewer", role="viewer"))
    assert client.get(reverse("admin:helpline_metrics", args=[w.helpline.pk])).status_code == 403


def test_a_helpline_manager_counsellor_reads_metrics_and_a_tampered_period_is_clamped(client):
    from helpline.models import CounsellorRole
    from helpline.services import counsellor_add
    from organisations.services import Actor

    w = _world()
    user = _manager(w.helpline.organisation, "hl-manager", role="viewer")
    counsellor_add(helpline=w.helpline, user=user, display_name="Pat",
                   role=CounsellorRole.MANAGER, actor=Actor.system())
    client.force_login(user)
    url = reverse("admin:helpline_metrics_csv", args=[w.helpline.pk])
    for days in ("x", "-5", "100000"):
        assert client.get(url, {"days": days}).status_code == 200
    rows = list(csv.reader(io.StringIO(client.get(url, {"days": "100000"}).content.decode())))
    assert sum(r[0] == "day" for r in rows) == metrics.MAX_DAYS


def test_a_campaign_name_is_not_a_formula_in_the_csv():
    assert metrics._cell_text("=HYPERLINK(1)") == "'=HYPERLINK(1)"
    assert metrics._cell_text("Summer") == "Summer"
