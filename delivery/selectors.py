"""Reads for the delivery engine, always scoped to the caller's organisation."""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import Count

from campaigns.models import Campaign
from core.disclosure import DisclosedCell, Table
from delivery.models import ChannelConfig, Delivery, DeliveryAttempt, DeliveryState
from delivery.signing import verify
from organisations.models import Organisation


def campaign_for_progress(*, organisation: Organisation, pk: object) -> Campaign | None:
    """The organisation's own campaign (another organisation's is None: a 404, not a 403)."""
    try:
        number = int(str(pk))
    except ValueError:
        return None
    return Campaign.objects.filter(organisation=organisation, pk=number).first()


@dataclass(frozen=True)
class Progress:
    campaign: Campaign
    counts: dict[str, int]  # exact: internal use only, show `disclosed()`
    failure_reasons: list[tuple[str, int]]
    retries: int

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    def disclosed(self) -> dict:
        """Every figure through one disclosure table (core.disclosure): the states with their
        total, which the reader knows adds up, and the failure reasons inside "failed", so a
        small state cannot be worked out from the total and the others."""
        table = Table()
        states = [table.count(("state", s), self.counts.get(s, 0)) for s in DeliveryState.values]
        table.total("total", states, cost=1)
        reasons = [table.count(("reason", i), n) for i, (_, n) in enumerate(self.failure_reasons)]
        table.sums_to(("state", DeliveryState.FAILED), reasons, complete=False)
        table.count("retries", self.retries)
        # Computed from the published (rounded) figures, so it reveals nothing more.
        table.derived("done", None, depends_on=states, reveals=False)
        shown = table.publish()
        cells = {s: shown[("state", s)] for s in DeliveryState.values}
        return {
            "campaign": self.campaign.pk,
            "status": self.campaign.status,
            "counts": {state: cell.display for state, cell in cells.items()},
            "total": shown["total"].display,
            "retries": shown["retries"].display,
            "failure_reasons": [
                {"reason": reason, "count": shown[("reason", i)].display}
                for i, (reason, _) in enumerate(self.failure_reasons)],
            "done_percent": self.done_percent(cells) if shown.shown("done") else None,
        }

    def done_percent(self, cells: dict[str, DisclosedCell]) -> int | None:
        """Share finished, from the published (rounded) figures only; None if any is hidden."""
        if any(cell.suppressed for cell in cells.values()):
            return None
        total = sum(cell.value or 0 for cell in cells.values())
        waiting = (cells[DeliveryState.QUEUED].value or 0) + (
            cells[DeliveryState.SENDING].value or 0)
        return round(100 * (total - waiting) / total) if total else None


def campaign_progress(*, campaign: Campaign, top_reasons: int = 5) -> Progress:
    rows = Delivery.objects.filter(campaign=campaign)
    counts = dict(rows.values_list("state").annotate(n=Count("id")).values_list("state", "n"))
    reasons = list(
        rows.filter(state=DeliveryState.FAILED).values_list("reason")
        .annotate(n=Count("id")).order_by("-n").values_list("reason", "n")[:top_reasons])
    retries = DeliveryAttempt.objects.filter(delivery__campaign=campaign,
                                             outcome="retry").count()
    return Progress(campaign=campaign, counts=counts, failure_reasons=reasons, retries=retries)


def delivery_for_provider_id(*, provider_message_id: str, channel: str,
                             organisation_id: int | None = None) -> Delivery | None:
    """For provider callbacks: the delivery a provider's message id belongs to (of that
    organisation, when given: the one whose callback secret signed the callback)."""
    if not provider_message_id:
        return None
    deliveries = Delivery.objects.select_related("recipient__organisation").filter(
        provider_message_id=provider_message_id, channel=channel)
    if organisation_id is not None:
        deliveries = deliveries.filter(organisation_id=organisation_id)
    return deliveries.first()


def callback_signer(body: bytes, header: str, *, channel: str) -> int | None:
    """The organisation whose `channel` callback secret signed `body`, or None.

    Checked before anything about the callback is looked up, so an unsigned caller learns
    nothing (not whether a message id exists); the secrets are per organisation, so each
    configured one is tried (a handful of HMACs)."""
    if not header:
        return None
    for config in ChannelConfig.objects.filter(channel=channel).order_by("pk"):
        secret = config.secrets().get("callback_secret", "")
        if secret and verify(body, header, secret=secret):
            return config.organisation_id
    return None
