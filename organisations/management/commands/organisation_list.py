"""`manage.py organisation_list`: slugs, kinds and partnerships, for operators."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from organisations.models import Organisation, Partnership


class Command(BaseCommand):
    help = "List organisations with their kind, and each programme's partners."

    def handle(self, *args: Any, **options: Any) -> None:
        for organisation in Organisation.objects.order_by("slug"):
            self.stdout.write(f"{organisation.slug}\t{organisation.kind}\t{organisation.name}")
        for partnership in Partnership.objects.select_related("programme", "partner"):
            self.stdout.write(f"partnership\t{partnership.programme.slug} ← "
                              f"{partnership.partner.slug}\t{', '.join(partnership.triggers)}")
