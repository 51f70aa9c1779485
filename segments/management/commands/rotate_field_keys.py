"""Re-wrap every recipient data key under the newest field-encryption key.

Run after adding a new key (newest first in OUTREACH_FIELD_ENCRYPTION_KEYS or a newer key file);
when it reports 0 left, the old key can be destroyed. Contact ciphertexts are untouched: they
are sealed with per-recipient data keys, and only those 32-byte keys are re-encrypted.
"""

from __future__ import annotations

from django.core.management.base import BaseCommand

from segments.recipients import field_keys_rotate


class Command(BaseCommand):
    help = "Re-wrap recipient data keys under the newest field-encryption key."

    def add_arguments(self, parser) -> None:  # type: ignore[no-untyped-def]
        parser.add_argument("--batch-size", type=int, default=1000)

    def handle(self, *args, batch_size: int, **options) -> None:  # type: ignore[no-untyped-def]
        rewrapped = field_keys_rotate(batch_size=batch_size)
        self.stdout.write(f"re-wrapped {rewrapped} data keys")
