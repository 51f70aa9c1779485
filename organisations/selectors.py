"""Reads for tenancy: which organisation a caller acts for."""

from __future__ import annotations

import hmac
import weakref
from typing import Any

from django.utils import timezone

from organisations.models import ApiKey, Membership, Organisation, Partnership, Role
from organisations.services import hash_secret, split_key


def api_key_authenticate(full_key: str) -> ApiKey | None:
    """The usable key matching `full_key`, or None (wrong, expired or revoked)."""
    parts = split_key(full_key)
    if parts is None:
        return None
    api_key = ApiKey.objects.select_related("organisation").filter(prefix=parts[0]).first()
    if api_key is None or not hmac.compare_digest(api_key.secret_hash, hash_secret(full_key)):
        return None
    return api_key if api_key.is_usable(now=timezone.now()) else None


# user object's id -> its membership. Lives as long as the user object (one per request):
# a finalizer drops the entry when the object goes, so an id reused later finds nothing.
_memberships: dict[int, Membership | None] = {}


def user_membership(user: Any) -> Membership | None:
    """The user's membership, looked up once per user object (one object per request)."""
    if not getattr(user, "is_authenticated", False):
        return None
    key = id(user)
    if key not in _memberships:
        _memberships[key] = (
            user.memberships.select_related("organisation").order_by("created_at").first())
        weakref.finalize(user, _memberships.pop, key, None)
    return _memberships[key]


def user_organisation(user: Any) -> Organisation | None:
    membership = user_membership(user)
    return membership.organisation if membership else None


def user_role(user: Any) -> str | None:
    membership = user_membership(user)
    return membership.role if membership else None


def organisation_members(*, organisation: Organisation, role: str | None = None):  # type: ignore[no-untyped-def]
    memberships = Membership.objects.filter(organisation=organisation).select_related("user")
    if role:
        memberships = memberships.filter(role=Role(role))
    return memberships


def programmes_visible_to(organisation: Organisation) -> list[int]:
    """Ids of the organisation itself and the programmes it partners with."""
    programme_ids = Partnership.objects.filter(partner=organisation).values_list(
        "programme_id", flat=True)
    return [organisation.pk, *programme_ids]


def partnership_for(*, programme: Organisation, partner: Organisation) -> Partnership | None:
    return Partnership.objects.filter(programme=programme, partner=partner).first()
