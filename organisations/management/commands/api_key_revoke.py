"""`manage.py api_key_revoke --prefix P`: the key stops working at once (≤ the snapshot
seconds on the interventions endpoint)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from organisations.models import ApiKey
from organisations.services import Actor, api_key_revoke


class Command(BaseCommand):
    help = "Revoke an API key by its prefix (the 8 characters after `ork_`)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--prefix", required=True)

    def handle(self, *args: Any, **options: Any) -> None:
        api_key = ApiKey.objects.filter(prefix=options["prefix"]).first()
        if api_key is None:
            raise CommandError(f"No API key with prefix '{options['prefix']}'.")
        api_key_revoke(api_key=api_key, actor=Actor.system())
        self.stdout.write(f"Revoked key '{api_key.name}' ({api_key.prefix}).")
