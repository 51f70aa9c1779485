"""factory-boy factories for the foundation. Apps add their own in tests/<app>/factories.py."""

from __future__ import annotations

import factory
from django.contrib.auth import get_user_model

from organisations.models import ApiKey, Membership, Organisation
from organisations.services import Actor, api_key_create


class OrganisationFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Organisation

    name = factory.Sequence(lambda n: f"Organisation {n}")
    slug = factory.LazyAttribute(lambda o: o.name.lower().replace(" ", "-")[:80])
    kind = "programme_owner"


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        django_get_or_create = ("username",)

    username = factory.Sequence(lambda n: f"user{n}")
    password = factory.django.Password("correct horse battery staple")
    is_staff = True


class MembershipFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Membership

    user = factory.SubFactory(UserFactory)
    organisation = factory.SubFactory(OrganisationFactory)
    role = "manager"


class ApiKeyFactory:
    """Keys go through the real service so the hash and prefix are made as in production."""

    @staticmethod
    def create_with_secret(*, organisation: Organisation, scopes: list[str],
                           name: str = "test key", **kwargs: object) -> tuple[ApiKey, str]:
        return api_key_create(organisation=organisation, name=name, scopes=scopes,
                              actor=Actor.system(), **kwargs)
