"""`manage.py import_directory --organisation <slug> [--data-dir PATH] [--confirm-all-for-demo]`."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from core.errors import InvalidInput
from directory.demo import confirm_all_for_demo
from directory.models import VerificationStatus
from directory.selectors import help_resource_verification_counts
from directory.services import directory_import
from organisations.models import Organisation
from organisations.services import Actor


class Command(BaseCommand):
    help = ("Import the shared help-resource directory and legal notices for one programme. "
            "Idempotent; never overwrites the programme's confirmations.")

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--organisation", required=True, help="the programme's slug")
        parser.add_argument("--data-dir", type=Path, default=None,
                            help="folder with help_resources.json and legal_notices.json "
                                 "(default: settings.SHARED_DATA_DIR)")
        parser.add_argument(
            "--confirm-all-for-demo", action="store_true",
            help="DEMO ONLY: confirm every displayable record as the system actor. A real "
                 "programme confirms each record itself after checking it.")

    def handle(self, *args: Any, **options: Any) -> None:
        organisation = Organisation.objects.filter(slug=options["organisation"]).first()
        if organisation is None:
            raise CommandError(f"No organisation with slug '{options['organisation']}'.")
        data_dir = options["data_dir"] or settings.SHARED_DATA_DIR
        try:
            report = directory_import(organisation=organisation, data_dir=data_dir,
                                      actor=Actor.system())
        except InvalidInput as error:
            raise CommandError(error.message) from error
        if options["confirm_all_for_demo"]:
            confirm_all_for_demo(organisation=organisation, report=report)
        for line in report.lines():
            self.stdout.write(line)
        self.stdout.write(verification_summary(organisation))


def verification_summary(organisation: Organisation) -> str:
    """Why a fresh import signposts nothing: every record waits for a person's confirmation."""
    counts = help_resource_verification_counts(organisation=organisation)
    confirmed = counts.get(VerificationStatus.CONFIRMED, 0)
    waiting = counts.get(VerificationStatus.NEEDS_VERIFICATION, 0)
    stale = counts.get(VerificationStatus.STALE, 0)
    lines = [f"{confirmed} help resources are confirmed and may be signposted; "
             f"{waiting} need verification; {stale} are stale."]
    if waiting or stale:
        lines.append(
            "Nothing is signposted until a programme user has checked a record against the "
            "service's own site (phone number, URL, opening hours) and confirmed it: a wrong "
            "phone number is harm. Confirm them in the admin under Directory → Help resources "
            "(filter by verification status 'Needs verification', then the action 'Confirm "
            "selected resources'); confirmations expire after the "
            "policy window (HELP_RESOURCE_STALE_AFTER_DAYS). A live campaign's launch check "
            "names every unconfirmed resource it would signpost.")
    return "\n".join(lines)
