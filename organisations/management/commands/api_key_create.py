"""`manage.py api_key_create --organisation S --name N --scope … [--expires-in-days D]`."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from organisations.management.commands._arguments import choice, organisation_by_slug
from organisations.models import ApiScope
from organisations.services import Actor, api_key_create


class Command(BaseCommand):
    help = ("Create an API key for an organisation. The key is printed once and stored only as "
            "a hash: hand it to the partner over a secure channel.")

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--organisation", required=True, help="the organisation's slug")
        parser.add_argument("--name", required=True, help="what the key is for")
        parser.add_argument("--scope", action="append", required=True, dest="scopes",
                            help=f"repeat for several: {', '.join(ApiScope.values)}")
        parser.add_argument("--expires-in-days", type=int, default=None)

    def handle(self, *args: Any, **options: Any) -> None:
        organisation = organisation_by_slug(options["organisation"])
        scopes = [choice(scope, ApiScope, "scope") for scope in options["scopes"]]
        expires_at = None
        if options["expires_in_days"] is not None:
            if options["expires_in_days"] < 1:
                raise CommandError("--expires-in-days must be at least 1.")
            expires_at = timezone.now() + timedelta(days=options["expires_in_days"])
        api_key, secret = api_key_create(organisation=organisation, name=options["name"],
                                         scopes=scopes, expires_at=expires_at,
                                         actor=Actor.system())
        self.stderr.write(f"Key '{api_key.name}' (prefix {api_key.prefix}) for "
                          f"{organisation.slug}, scopes: {', '.join(api_key.scopes)}. "
                          "Shown once; not stored:")
        self.stdout.write(secret)
