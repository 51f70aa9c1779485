"""Demo seeding: the shared directory, confirmed for the demo and saying so.

`seed_demo(organisation=...)` is idempotent. It is never what a real programme should do: a
programme confirms each record itself after checking the number or address works.
"""

from __future__ import annotations

from django.conf import settings
from django.db import transaction

from directory.models import HelpResource, VerificationStatus
from directory.selectors import stale_windows
from directory.services import ImportReport, directory_import, help_resource_confirm
from directory.services import help_resource_set_hours as set_hours
from organisations.models import Organisation
from organisations.services import Actor

DEMO_CONFIRMATION_NOTE = "Confirmed for the demo only (not checked by a person)."
STOP_IT_NOW_UK = "stop-it-now-uk-ireland-helpline"
# The shared data gives the UK helpline's hours only as historical free text; the demo turns that
# text into structured hours so "open now" can be shown, and marks them as demo-only. We check
# the text still says this before using it, so changed data leaves the hours unknown instead.
HISTORICAL_HOURS_TEXT = ("Mon-Thu 09:00-21:00", "Fri 09:00-17:00")
DEMO_HOURS = [*({"weekday": day, "opens": "09:00", "closes": "21:00"} for day in (1, 2, 3, 4)),
              {"weekday": 5, "opens": "09:00", "closes": "17:00"}]
DEMO_HOURS_NOTE = ("Demo only: structured from the historical hours in the source "
                   "(Mon-Thu 09:00-21:00, Fri 09:00-17:00 UK time); current hours not confirmed.")


def seed_demo(*, organisation: Organisation) -> ImportReport:
    """Import settings.SHARED_DATA_DIR for `organisation`, add the demo hours, confirm for demo."""
    report = directory_import(organisation=organisation, data_dir=settings.SHARED_DATA_DIR,
                              actor=Actor.system())
    _demo_hours(organisation, report)
    confirm_all_for_demo(organisation=organisation, report=report)
    return report


@transaction.atomic
def confirm_all_for_demo(*, organisation: Organisation, report: ImportReport) -> ImportReport:
    """DEMO ONLY: confirm every displayable record that is not currently confirmed."""
    window = stale_windows([organisation.pk])[organisation.pk]
    for resource in HelpResource.objects.filter(organisation=organisation).displayable():
        if resource.verification_status(stale_after_days=window) != VerificationStatus.CONFIRMED:
            help_resource_confirm(resource=resource, actor=Actor.system(),
                                  note=DEMO_CONFIRMATION_NOTE)
            report.confirmed += 1
    report.notes.append(
        f"DEMO: confirmed {report.confirmed} displayable record(s) as the system actor, "
        "without a person checking them. A real programme must confirm each record itself.")
    return report


def _demo_hours(organisation: Organisation, report: ImportReport) -> None:
    resource = HelpResource.objects.filter(organisation=organisation, slug=STOP_IT_NOW_UK).first()
    if resource is None or resource.opening_hours.exists():
        return  # absent, or hours already entered (by the demo or by the programme)
    if not all(part in resource.opening_hours_text for part in HISTORICAL_HOURS_TEXT):
        report.notes.append(f"DEMO: {STOP_IT_NOW_UK} hours left unknown (source text changed).")
        return
    set_hours(resource=resource, actor=Actor.system(), time_zone="Europe/London",
              periods=DEMO_HOURS, note=DEMO_HOURS_NOTE)
    report.notes.append(f"DEMO: structured hours for {STOP_IT_NOW_UK} entered from the "
                        "historical source text (demo only, not confirmed).")
