"""Create a key for a ring: print it for your secret store, or write it to OUTREACH_KEY_DIR."""

from __future__ import annotations

import base64
import secrets
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from core.keys import KEY_BYTES, create_key_file

RINGS = ("pseudonym", "field", "blind_index")


class Command(BaseCommand):
    help = "Create a pseudonym, field-encryption or blind-index key (e.g. pseudonym 2026-12)."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("ring", choices=RINGS)
        parser.add_argument("key_id", help="pseudonym keys: YYYY-MM; others: k0002, …")
        parser.add_argument("--write", action="store_true",
                            help="write the key file under OUTREACH_KEY_DIR instead of printing")

    def handle(self, *args: Any, ring: str, key_id: str, write: bool, **options: Any) -> None:
        if not key_id.replace("-", "").isalnum():
            raise CommandError("key ids are letters, digits and dashes")
        if write:
            directory = settings.KEY_DIR / ring
            if (directory / f"{key_id}.key").exists():
                raise CommandError(f"{ring} key {key_id} exists already; keys are never replaced")
            create_key_file(directory, key_id)
            self.stdout.write(f"wrote {directory / (key_id + '.key')}")
            return
        encoded = base64.urlsafe_b64encode(secrets.token_bytes(KEY_BYTES)).decode()
        self.stdout.write(f"{key_id}:{encoded}")
