"""The admin index as a programme manager's home: what runs, what waits for a person, today.

Reads only, scoped to the user's organisation (a superuser sees every organisation). Counts
shown here pass disclosure control like every other count that leaves the system.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.db.models import Q
from django.utils import timezone

from campaigns.models import Campaign, CampaignStatus
from core.disclosure import DisclosedCell, disclose_count
from delivery.models import Delivery, DeliveryState
from directory.models import HelpResource, VerificationStatus
from directory.selectors import verification_q
from organisations.models import Organisation
from organisations.selectors import user_organisation

# Django's own security apps: kept out of the programme's work on the index.
SECURITY_APPS = frozenset({"axes", "otp_totp", "otp_static", "otp_email", "otp_hotp",
                           "auth", "sessions"})


@dataclass(frozen=True)
class Dashboard:
    running: list[Campaign]
    in_review: list[Campaign]
    needs_verification: int
    stale: int
    expiring_soon: int
    sent_today: DisclosedCell
    failed_today: DisclosedCell


def dashboard_for(user: Any) -> Dashboard | None:
    organisation = None if user.is_superuser else user_organisation(user)
    if organisation is None and not user.is_superuser:
        return None
    scope = Q() if organisation is None else Q(organisation=organisation)
    campaigns = Campaign.objects.filter(scope).order_by("-updated_at")
    resources = HelpResource.objects.filter(scope)
    now = timezone.now()
    start_of_day = timezone.localtime(now).replace(hour=0, minute=0, second=0, microsecond=0)
    sent, failed = day_deliveries(organisation=organisation, since=start_of_day)
    return Dashboard(
        running=list(campaigns.filter(status=CampaignStatus.RUNNING)[:10]),
        in_review=list(campaigns.filter(status=CampaignStatus.IN_REVIEW)[:10]),
        needs_verification=resources.filter(
            verification_q(VerificationStatus.NEEDS_VERIFICATION)).count(),
        stale=resources.filter(verification_q(VerificationStatus.STALE)).count(),
        expiring_soon=_expiring_soon(resources, now),
        sent_today=disclose_count(sent.count()),
        failed_today=disclose_count(failed.count()),
    )


def day_deliveries(*, organisation: Any, since: Any) -> tuple[Any, Any]:
    """(deliveries sent since `since`, deliveries created since then that failed).

    By organisation id, also for a superuser (every organisation): the counts then read ranges
    of the partial indexes delivery_sent / delivery_failed (organisation, time) instead of
    scanning the outbox, which holds a row per person and step.
    """
    ids = ([organisation.pk] if organisation is not None else
           list(Organisation.objects.values_list("pk", flat=True)))
    deliveries = Delivery.objects.filter(organisation_id__in=ids)
    return (deliveries.filter(sent_at__gte=since),
            deliveries.filter(state=DeliveryState.FAILED, created_at__gte=since))


def _expiring_soon(resources: Any, now: Any) -> int:
    """Confirmed now, stale within 30 days: the next to re-check."""
    confirmed = resources.filter(verification_q(VerificationStatus.CONFIRMED))
    return confirmed.exclude(verification_q(VerificationStatus.CONFIRMED,
                                            now=now + timedelta(days=30))).count()


def split_app_list(app_list: list[dict], *, superuser: bool) -> tuple[list[dict], list[dict]]:
    """(the programme's apps, Django's security apps); non-superusers get no security apps."""
    work = [app for app in app_list if app["app_label"] not in SECURITY_APPS]
    security = [app for app in app_list if app["app_label"] in SECURITY_APPS]
    return work, security if superuser else []
