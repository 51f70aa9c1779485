"""Who may do what in the campaign admin: from the organisation role, not Django permissions."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django import forms
from django.http import HttpRequest

from campaigns import lifecycle
from campaigns.models import Campaign
from organisations.models import Role
from organisations.selectors import user_membership

REVIEW_ACTIONS = {"approve", "reject"}


def role_of(request: HttpRequest) -> str | None:
    membership = user_membership(request.user)
    return membership.role if membership else None


class RoleAccess:
    """Permissions from the organisation role rather than Django's per-model permissions."""

    def has_module_permission(self, request: HttpRequest) -> bool:
        return request.user.is_superuser or role_of(request) is not None

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self.has_module_permission(request)

    def _manages(self, request: HttpRequest) -> bool:
        return request.user.is_superuser or role_of(request) == Role.MANAGER

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self._manages(request)

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self._manages(request)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # cancel instead: the evidence log refers to campaigns and messages


def may_press(action: str, role: str | None) -> bool:
    """Reviewers approve and reject; managers do everything (the services check four eyes)."""
    if action in REVIEW_ACTIONS:
        return role in (Role.REVIEWER, Role.MANAGER)
    return role == Role.MANAGER


def campaign_locked(campaign: Campaign | None) -> bool:
    return campaign is not None and campaign.status not in lifecycle.EDITABLE


def plain_number(value: Decimal | None) -> str:
    """30.0000 → 30, 2.5000 → 2.5 (the model stores four decimal places)."""
    if value is None:
        return "-"
    return format(value.normalize(), "f")


def codes_field(label: str, example: str) -> forms.CharField:
    return forms.CharField(label=label, required=False,
                           help_text=f"Comma-separated codes, e.g. {example}")



class LockedInlineMixin(RoleAccess):
    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self._manages(request) and not campaign_locked(obj)

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self._manages(request) and not campaign_locked(obj)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self._manages(request) and not campaign_locked(obj)

