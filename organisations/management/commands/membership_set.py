"""`manage.py membership_set --organisation S --username U --role R [--create-user]`."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser

from organisations.management.commands._arguments import choice, organisation_by_slug
from organisations.models import Role
from organisations.services import Actor, membership_set


class Command(BaseCommand):
    help = ("Give a user a role in an organisation (admin access is scoped to it). With "
            "--create-user a staff user without a password is created; set one with "
            "`manage.py changepassword <username>`.")

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--organisation", required=True)
        parser.add_argument("--username", required=True)
        parser.add_argument("--role", required=True, help=", ".join(Role.values))
        parser.add_argument("--create-user", action="store_true")

    def handle(self, *args: Any, **options: Any) -> None:
        organisation = organisation_by_slug(options["organisation"])
        role = choice(options["role"], Role, "role")
        user = self._user(options["username"], create=options["create_user"])
        membership_set(organisation=organisation, user=user, role=role, actor=Actor.system())
        self.stdout.write(f"{user.get_username()} is {role} of {organisation.slug}.")
        if not user.has_usable_password():
            self.stdout.write(f"Set a password: manage.py changepassword {user.get_username()}")

    def _user(self, username: str, *, create: bool) -> Any:
        model = get_user_model()
        user = model.objects.filter(username=username).first()
        if user is not None:
            if not user.is_staff:
                model.objects.filter(pk=user.pk).update(is_staff=True)
                user.is_staff = True
            return user
        if not create:
            raise CommandError(f"No user '{username}'; add --create-user to create one.")
        user = model(username=username, is_staff=True)
        user.set_unusable_password()
        user.save()
        return user
