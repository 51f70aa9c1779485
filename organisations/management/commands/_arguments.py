"""Shared look-ups for the operator commands: a clear CommandError instead of a traceback."""

from __future__ import annotations

from django.core.management.base import CommandError

from organisations.models import Organisation


def organisation_by_slug(slug: str) -> Organisation:
    organisation = Organisation.objects.filter(slug=slug).first()
    if organisation is None:
        raise CommandError(f"No organisation with slug '{slug}' (list them with "
                           "`manage.py organisation_list`).")
    return organisation


def choice(value: str, choices: type, what: str) -> str:
    if value not in choices.values:
        allowed = ", ".join(choices.values)
        raise CommandError(f"Unknown {what} '{value}'; choose one of: {allowed}.")
    return value
