"""`manage.py partnership_set --programme P --partner Q --trigger T [--trigger …]`."""

from __future__ import annotations

import re
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from organisations.management.commands._arguments import organisation_by_slug
from organisations.services import Actor, partnership_set

# Triggers are abstract category labels chosen by the partner, never search terms.
TRIGGER_LABEL = re.compile(r"^[a-z][a-z0-9_]{1,63}$")


class Command(BaseCommand):
    help = ("Enrol a partner in a programme with the partner's trigger vocabulary (abstract "
            "category labels such as search_blocked_term). Re-running replaces the triggers.")

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--programme", required=True, help="the programme owner's slug")
        parser.add_argument("--partner", required=True, help="the partner organisation's slug")
        parser.add_argument("--trigger", action="append", required=True, dest="triggers",
                            help="a trigger category label; repeat for several")

    def handle(self, *args: Any, **options: Any) -> None:
        programme = organisation_by_slug(options["programme"])
        partner = organisation_by_slug(options["partner"])
        if programme.pk == partner.pk:
            raise CommandError("A programme cannot be its own partner.")
        bad = [t for t in options["triggers"] if not TRIGGER_LABEL.match(t)]
        if bad:
            raise CommandError(f"Triggers must be snake_case category labels; not: {bad}.")
        partnership = partnership_set(programme=programme, partner=partner,
                                      triggers=options["triggers"], actor=Actor.system())
        self.stdout.write(f"{partner.slug} is a partner of {programme.slug} for: "
                          f"{', '.join(partnership.triggers)}.")
