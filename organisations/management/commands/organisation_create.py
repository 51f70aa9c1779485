"""`manage.py organisation_create --name "…" --slug … --kind …`: a programme or a partner."""

from __future__ import annotations

from typing import Any
from zoneinfo import available_timezones

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils.text import slugify

from organisations.management.commands._arguments import choice
from organisations.models import Organisation, OrganisationKind
from organisations.services import Actor, organisation_create


class Command(BaseCommand):
    help = "Create an organisation (a programme owner, a partner platform, a helpline, …)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--name", required=True)
        parser.add_argument("--slug", help="short unique name (default: from --name)")
        parser.add_argument("--kind", required=True, help=", ".join(OrganisationKind.values))
        parser.add_argument("--time-zone", default="UTC",
                            help="IANA zone for schedules and send windows, e.g. Europe/London")

    def handle(self, *args: Any, **options: Any) -> None:
        kind = choice(options["kind"], OrganisationKind, "kind")
        slug = options["slug"] or slugify(options["name"])
        if not slug:
            raise CommandError("--slug is empty; give one made of letters, digits or hyphens.")
        if Organisation.objects.filter(slug=slug).exists():
            raise CommandError(f"An organisation with slug '{slug}' already exists.")
        if options["time_zone"] not in available_timezones():
            raise CommandError(f"Unknown time zone '{options['time_zone']}'.")
        organisation = organisation_create(name=options["name"], slug=slug, kind=kind,
                                           time_zone=options["time_zone"], actor=Actor.system())
        self.stdout.write(f"Created organisation '{organisation.slug}' ({organisation.name}, "
                          f"{organisation.get_kind_display()}).")
