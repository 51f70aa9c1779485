"""Writes for organisations, members and API keys. Each writes its audit row atomically."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db import models, transaction
from django.utils import timezone

from organisations.models import (
    ApiKey,
    ApiScope,
    AuditEvent,
    Membership,
    Organisation,
    Partnership,
    Role,
)

KEY_PREFIX = "ork"
PREFIX_CHARS = 8
SECRET_BYTES = 32  # 256 bits


@dataclass(frozen=True)
class Actor:
    """Whoever causes a change: a signed-in user, a partner key, or the system."""

    user: Any = None
    api_key: ApiKey | None = None

    @classmethod
    def system(cls) -> Actor:
        return cls()

    @property
    def signed_in_user(self) -> Any:
        """The user when one is signed in, else None (an API key or the system has none)."""
        user = self.user
        return user if getattr(user, "is_authenticated", False) and user.pk else None


def audit_record(*, organisation: Organisation | None, actor: Actor, action: str,
                 target: models.Model, changes: dict | None = None) -> AuditEvent:
    return AuditEvent.objects.create(
        organisation=organisation, actor_user=actor.signed_in_user, actor_api_key=actor.api_key,
        action=action, object_type=target._meta.label, object_id=str(target.pk),
        changes=changes or {},
    )


def hash_secret(full_key: str) -> str:
    # The key carries 256 random bits, so a fast hash cannot be brute-forced.
    return hashlib.sha256(full_key.encode()).hexdigest()


def split_key(full_key: str) -> tuple[str, str] | None:
    parts = full_key.split("_", 2)
    if len(parts) != 3 or parts[0] != KEY_PREFIX or len(parts[1]) != PREFIX_CHARS:
        return None
    return parts[1], parts[2]


@transaction.atomic
def organisation_create(*, name: str, slug: str, kind: str, actor: Actor,
                        time_zone: str = "UTC") -> Organisation:
    organisation = Organisation.objects.create(name=name, slug=slug, kind=kind,
                                               time_zone=time_zone)
    audit_record(organisation=organisation, actor=actor, action="organisation.create",
                 target=organisation, changes={"name": name, "kind": kind})
    return organisation


@transaction.atomic
def membership_set(*, organisation: Organisation, user: Any, role: str,
                   actor: Actor) -> Membership:
    membership, _ = Membership.objects.update_or_create(
        user=user, organisation=organisation, defaults={"role": Role(role)})
    audit_record(organisation=organisation, actor=actor, action="membership.set",
                 target=membership, changes={"user": user.get_username(), "role": role})
    return membership


@transaction.atomic
def api_key_create(*, organisation: Organisation, name: str, scopes: list[str], actor: Actor,
                   expires_at: datetime | None = None) -> tuple[ApiKey, str]:
    """Create a key and return it with the full secret, which is never shown again."""
    unknown = sorted(set(scopes) - set(ApiScope.values))
    if unknown:
        raise ValueError(f"unknown scopes: {', '.join(unknown)}")
    prefix = secrets.token_hex(PREFIX_CHARS // 2)
    full_key = f"{KEY_PREFIX}_{prefix}_{secrets.token_urlsafe(SECRET_BYTES)}"
    api_key = ApiKey.objects.create(
        organisation=organisation, name=name, prefix=prefix, secret_hash=hash_secret(full_key),
        scopes=sorted(set(scopes)), expires_at=expires_at,
        created_by=actor.signed_in_user)
    audit_record(organisation=organisation, actor=actor, action="api_key.create",
                 target=api_key, changes={"name": name, "scopes": api_key.scopes})
    return api_key, full_key


@transaction.atomic
def api_key_revoke(*, api_key: ApiKey, actor: Actor) -> ApiKey:
    if api_key.revoked_at is None:
        api_key.revoked_at = timezone.now()
        api_key.save(update_fields=["revoked_at"])
        audit_record(organisation=api_key.organisation, actor=actor, action="api_key.revoke",
                     target=api_key)
    return api_key


def api_key_touch(*, api_key: ApiKey, now: datetime) -> None:
    """Record use at most once a minute, so authentication does not write on every request."""
    if api_key.last_used_at and (now - api_key.last_used_at).total_seconds() < 60:
        return
    ApiKey.objects.filter(pk=api_key.pk).update(last_used_at=now)
    api_key.last_used_at = now


@transaction.atomic
def partnership_set(*, programme: Organisation, partner: Organisation, triggers: list[str],
                    actor: Actor) -> Partnership:
    partnership, _ = Partnership.objects.update_or_create(
        programme=programme, partner=partner, defaults={"triggers": sorted(set(triggers))})
    audit_record(organisation=programme, actor=actor, action="partnership.set",
                 target=partnership, changes={"partner": partner.slug,
                                              "triggers": partnership.triggers})
    return partnership
