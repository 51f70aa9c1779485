"""Demo: point the organisation's email channel at the local mail sink (`make demo` runs one)."""

from __future__ import annotations

from django.conf import settings

from delivery.models import ChannelConfig
from organisations.models import Organisation


def seed_demo(*, organisation: Organisation) -> ChannelConfig:
    """Idempotent: the email channel sends to EMAIL_HOST:EMAIL_PORT (127.0.0.1:1025 by default)
    with a generous rate, so a demo campaign's progress page fills up in seconds."""
    config, _ = ChannelConfig.objects.update_or_create(
        organisation=organisation, channel="email",
        defaults={
            "settings": {"host": settings.EMAIL_HOST, "port": settings.EMAIL_PORT,
                         "from_email": settings.DEFAULT_FROM_EMAIL},
            "rate_per_second": 200.0, "burst": 400, "is_active": True,
        })
    return config
