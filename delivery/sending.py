"""Send one claimed batch: check, render, rate-limit, send, record — in flushes of a few rows.

Order of events per row (the exactly-once core):
  1. the row is `sending`, claimed by this batch's unique worker id, with a lease;
  2. the provider accepts it (email: Message-ID from the delivery id; SMS/webhook: the delivery
     id as Idempotency-Key);
  3. `deliveries_record` moves it to `sent` and writes its exposure in one transaction, but only
     if the row is still ours.
A crash between 2 and 3 leaves the row `sending`; the sweeper re-queues it when the lease ends
and it is sent again under the same Message-ID / idempotency key. Rows are recorded every
DELIVERY_FLUSH_SIZE sends (a chunk); chunk k+1 is sent on the batch's sending thread while
chunk k is recorded, so at most two chunks can be re-transmitted after a kill.
Before each send the batch checks that its lease has DELIVERY_LEASE_MARGIN_SECONDS left (more
than any network timeout), so the sweeper never re-queues a row this batch might still send.
"""

from __future__ import annotations

import html as html_lib
import logging
import time
from collections import defaultdict
from collections.abc import Iterable
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

from django.conf import settings
from django.utils import timezone

from campaigns.models import Arm, Campaign, Message, Schedule
from campaigns.rendering import build_render_context, render_message
from delivery import pacing, ratelimit
from delivery.channels import (
    ChannelSender,
    Outgoing,
    PermanentError,
    SendResult,
    TransientError,
    sender_for,
)
from delivery.fanout import window_due_at
from delivery.models import (
    ACTIVE_CAMPAIGN_STATUSES,
    ChannelConfig,
    Delivery,
    DeliveryState,
    SkipReason,
)
from delivery.services import (
    Outcome,
    Result,
    campaign_error_check,
    deliveries_record,
    deliveries_release,
    deliveries_renew,
)
from interventions.links import help_link_signer, personalise_help_links
from segments.models import Segment
from segments.optout import OptOutLinks
from segments.selectors import contacts_for, suppressed_recipient_ids

logger = logging.getLogger(__name__)

OPT_OUT_SENTINEL = "optoutlinkplaceholder7f3a9c"


@dataclass
class BatchReport:
    sent: int = 0
    retried: int = 0
    failed: int = 0
    skipped: int = 0
    released: int = 0
    lost: int = 0
    by_campaign: dict[int, int] = field(default_factory=lambda: defaultdict(int))


@dataclass
class _InFlight:
    """A chunk handed to the sending thread: its rows, render failures and future results."""

    ready: list[tuple[Delivery, Outgoing]]
    outcomes: list[Outcome]
    results: Future


def deliveries_send(*, ids: list[UUID], worker_id: str, lease_deadline: float) -> BatchReport:
    """Send a batch this worker claimed. `lease_deadline` is time.monotonic() at lease end."""
    rows = load_claimed(ids=ids, worker_id=worker_id)
    batch = _Batch(worker_id=worker_id, lease_deadline=lease_deadline)
    batch.pending = {row.pk for row in rows}
    try:
        groups: dict[tuple[int, str], list[Delivery]] = defaultdict(list)
        for row in rows:
            groups[(row.organisation_id, row.channel)].append(row)
        for (organisation_id, channel), group in groups.items():
            batch.send_group(organisation_id, channel, group)
    finally:
        batch.close()
        if batch.pending:  # anything not sent or recorded goes back at once
            batch.report.released += deliveries_release(ids=batch.pending, worker_id=worker_id)
    return batch.report


def load_claimed(*, ids: list[UUID], worker_id: str) -> list[Delivery]:
    """The claimed rows with their recipients; the few campaigns, arms, messages, steps and
    segments of a batch are loaded once each and shared, not joined into every row."""
    rows = list(Delivery.objects.filter(pk__in=ids, state=DeliveryState.SENDING,
                                        claimed_by=worker_id).select_related("recipient"))
    related = {
        "campaign": Campaign.objects.select_related("organisation"),
        "arm": Arm.objects.all(), "message": Message.objects.all(),
        "schedule": Schedule.objects.select_related("campaign__organisation"),
        "segment": Segment.objects.all(),
    }
    for name, queryset in related.items():
        wanted = {getattr(row, f"{name}_id") for row in rows} - {None}
        found = queryset.in_bulk(wanted) if wanted else {}
        for row in rows:
            key = getattr(row, f"{name}_id")
            if key is not None:
                setattr(row, name, found.get(key))
    gone = set(ids) - {row.pk for row in rows}
    if gone:  # rows whose recipient no longer exists (the join dropped them)
        Delivery.objects.filter(pk__in=gone, state=DeliveryState.SENDING,
                                claimed_by=worker_id).update(
            state=DeliveryState.FAILED, reason="the recipient no longer exists",
            claimed_by="", lease_expires_at=None)
    return rows


class _Batch:
    def __init__(self, *, worker_id: str, lease_deadline: float) -> None:
        self.worker_id = worker_id
        self.lease_deadline = self.renew_at = 0.0
        self.lease_until(lease_deadline)
        self.report = BatchReport()
        self.pending: set[UUID] = set()
        self.renders: dict[tuple, Any] = {}
        self.opt_outs = OptOutLinks()
        self.active_checked: dict[int, float] = {}
        self.sending: ThreadPoolExecutor | None = None  # one thread: chunks go out in order
        self.in_flight: _InFlight | None = None

    # -- steps ------------------------------------------------------------------------------
    def send_group(self, organisation_id: int, channel: str, rows: list[Delivery]) -> None:
        now = timezone.now()
        sendable = self.triage(organisation_id, channel, rows, now)
        if not sendable:
            return
        config = ChannelConfig.objects.filter(organisation_id=organisation_id, channel=channel,
                                              is_active=True).first()
        if config is None:
            self.record([Outcome(row, Result.RETRY, f"no active {channel} channel configured")
                         for row, _ in sendable])
            return
        bucket = ratelimit.Bucket(organisation_id, channel, config.rate_per_second,
                                  config.burst)
        sender = sender_for(config)
        try:
            self.send_all(sendable, sender, bucket)
        finally:
            sender.close()

    def triage(self, organisation_id: int, channel: str, rows: list[Delivery],
               now: datetime) -> list[tuple[Delivery, str]]:
        """Settle rows that need no send; return (row, contact) for the rest."""
        settled: list[Outcome] = []
        later: dict[datetime, list[UUID]] = defaultdict(list)
        candidates: list[Delivery] = []
        for row in rows:
            due = window_due_at(row.schedule, row.recipient.time_zone, now)
            if row.recipient.status != "active":
                settled.append(Outcome(row, Result.SKIPPED, SkipReason.RECIPIENT_INACTIVE))
            elif due > now:
                later[due].append(row.pk)  # the window closed while it waited: wait again
            elif row.arm is not None and row.arm.kind == "holdout":
                settled.append(Outcome(row, Result.SKIPPED, SkipReason.HOLDOUT))
            elif row.message is None:
                settled.append(Outcome(row, Result.SKIPPED, SkipReason.NO_MESSAGE))
            else:
                candidates.append(row)
        for due, ids in later.items():
            self.release(ids, next_attempt_at=due)
        sendable = self.reachable(organisation_id, channel, candidates, settled)
        if settled:
            self.record(settled)
        return sendable

    def reachable(self, organisation_id: int, channel: str, rows: list[Delivery],
                  settled: list[Outcome]) -> list[tuple[Delivery, str]]:
        if not rows:
            return []
        recipient_ids = [row.recipient_id for row in rows]
        blocked = suppressed_recipient_ids(organisation_id=organisation_id, channel=channel,
                                           recipient_ids=recipient_ids)
        contacts = contacts_for(recipients=[row.recipient for row in rows],
                                channel=channel) if channel != "webhook" else {}
        sendable: list[tuple[Delivery, str]] = []
        for row in rows:
            contact = contacts.get(row.recipient_id)
            if channel == "webhook" and not contact:
                recipient = row.recipient
                contact = f"{recipient.reference_key_id}:{recipient.reference_pseudonym}"
            if row.recipient_id in blocked:
                settled.append(Outcome(row, Result.SUPPRESSED, "suppressed after the audience "
                                       "was frozen"))
            elif not contact:
                settled.append(Outcome(row, Result.SKIPPED, SkipReason.NO_CONTACT))
            else:
                sendable.append((row, contact))
        return sendable

    def send_all(self, sendable: list[tuple[Delivery, str]], sender: ChannelSender,
                 bucket: ratelimit.Bucket) -> None:
        try:
            self.send_chunks(sendable, sender, bucket)
        except BaseException:
            self.settle()
            raise
        self.finish()

    def send_chunks(self, sendable: list[tuple[Delivery, str]], sender: ChannelSender,
                    bucket: ratelimit.Bucket) -> None:
        """Chunk k+1 goes out on the sending thread while this thread records chunk k, so the
        provider's and the database's round trips overlap. At most two chunks are ever sent
        and not yet recorded."""
        size = max(settings.DELIVERY_FLUSH_SIZE, 1)
        pace = pacing.bucket_for(sendable[0][0].campaign_id) if sendable else None
        if pace is not None:  # a paced campaign: chunks no bigger than a minute of its pace
            size = min(size, pace.burst)
        for start in range(0, len(sendable), size):
            chunk = sendable[start:start + size]
            if not self.may_continue(chunk[0][0].campaign_id):
                return
            wait = 0.0 if pace is None else ratelimit.acquire(
                pace, len(chunk), max_wait=settings.DELIVERY_MAX_RATE_WAIT_SECONDS)  # type: ignore[arg-type]
            if wait >= 0:
                wait = max(wait, ratelimit.acquire(
                    bucket, len(chunk), max_wait=settings.DELIVERY_MAX_RATE_WAIT_SECONDS))
            if wait < 0:  # the channel is saturated: come back when tokens will be there
                due = timezone.now() + timedelta(seconds=-wait)
                self.release([row.pk for row, _ in sendable[start:]], next_attempt_at=due)
                return
            time.sleep(wait)
            previous, self.in_flight = self.in_flight, self.start(chunk, sender)
            if previous is not None:
                self.record_sent(previous)

    def start(self, chunk: list[tuple[Delivery, str]], sender: ChannelSender) -> _InFlight:
        """Render the chunk here (rendering may read the database), send it on the sending
        thread (which never touches the database)."""
        outcomes: list[Outcome] = []
        ready: list[tuple[Delivery, Outgoing]] = []
        for row, contact in chunk:
            try:
                ready.append((row, self.outgoing(row, contact)))
            except Exception as error:  # a template that cannot render will never render
                outcomes.append(Outcome(row, Result.FAILED, f"render: {error}"[:300]))
        # From here the provider may have the messages: a crash leaves them to the sweeper.
        self.pending -= {row.pk for row, _ in ready}
        if self.sending is None:
            self.sending = ThreadPoolExecutor(1, thread_name_prefix="delivery-send")
        future = self.sending.submit(self.transmit, [outgoing for _, outgoing in ready], sender)
        return _InFlight(ready=ready, outcomes=outcomes, results=future)

    def record_sent(self, flight: _InFlight) -> None:
        results = flight.results.result()
        outcomes = flight.outcomes
        for (row, _), result in zip(flight.ready, results, strict=True):
            if result is None:  # never started (the lease ran short): it goes back
                self.pending.add(row.pk)
            else:
                outcomes.append(_outcome(row, result))
        self.record(outcomes)

    def finish(self) -> None:
        """Record the last chunk still in flight."""
        flight, self.in_flight = self.in_flight, None
        if flight is not None:
            self.record_sent(flight)

    def settle(self) -> None:
        """After an error (e.g. Redis gone at the next rate-limit check): the chunk in flight
        still ends and is recorded if the database lets us; if not, its rows stay `sending`
        and the sweeper re-queues them (same Message-ID / idempotency key)."""
        flight, self.in_flight = self.in_flight, None
        if flight is None:
            return
        try:
            self.record_sent(flight)
        except Exception:
            wait([flight.results])  # never close the connection under a running send
            logger.exception("a sent chunk could not be recorded; the sweeper will re-send it")

    def close(self) -> None:
        if self.sending is not None:
            self.sending.shutdown(wait=True)
            self.sending = None

    def transmit(self, outgoings: list[Outgoing], sender: ChannelSender) -> list[Any]:
        """One result per message (SendResult or the error), None for those not started."""
        try:
            return list(sender.send_many(outgoings, deadline=self.lease_deadline))
        except Exception as error:  # an adapter bug must not lose the chunk's outcomes
            logger.exception("unexpected error from the %s adapter", type(sender).__name__)
            return [error] * len(outgoings)

    def record(self, outcomes: list[Outcome]) -> None:
        if not outcomes:
            return
        recorded = deliveries_record(outcomes=outcomes, worker_id=self.worker_id,
                                     now=timezone.now())
        self.pending -= {outcome.delivery.pk for outcome in outcomes}
        self.report.lost += len(outcomes) - recorded
        failures = {o.delivery.campaign_id for o in outcomes if o.result == Result.FAILED}
        for outcome in outcomes:
            counter = {Result.SENT: "sent", Result.RETRY: "retried",
                       Result.FAILED: "failed"}.get(outcome.result, "skipped")
            setattr(self.report, counter, getattr(self.report, counter) + 1)
            if outcome.result == Result.SENT:
                self.report.by_campaign[outcome.delivery.campaign_id] += 1
        for campaign_id in failures:
            campaign_error_check(campaign_id=campaign_id)

    def release(self, ids: Iterable[UUID], *, next_attempt_at: datetime | None = None) -> None:
        ids = list(ids)
        self.report.released += deliveries_release(ids=ids, worker_id=self.worker_id,
                                                   next_attempt_at=next_attempt_at)
        self.pending -= set(ids)

    def lease_until(self, lease_end: float) -> None:
        """Sends stop DELIVERY_LEASE_MARGIN_SECONDS (more than any network timeout) before the
        lease ends; the lease is renewed once half of the sending time is used."""
        self.lease_deadline = lease_end - settings.DELIVERY_LEASE_MARGIN_SECONDS
        self.renew_at = self.lease_deadline - max(
            (settings.DELIVERY_LEASE_SECONDS - settings.DELIVERY_LEASE_MARGIN_SECONDS) / 2, 0)

    def keep_lease(self) -> bool:
        """Renew the lease of every row this batch still holds (waiting or in flight)."""
        if time.monotonic() < self.renew_at:
            return True
        held = set(self.pending)
        if self.in_flight is not None:
            held |= {row.pk for row, _ in self.in_flight.ready}
        started = time.monotonic()
        renewed = deliveries_renew(ids=held, worker_id=self.worker_id, now=timezone.now())
        if renewed < len(held):  # clocks or a stall let the sweeper take some: stop here
            logger.warning("lease lost on %s rows of a batch", len(held) - renewed)
            return False
        self.lease_until(started + settings.DELIVERY_LEASE_SECONDS)
        return True

    def may_continue(self, campaign_id: int) -> bool:
        """Lease left, and the campaign still running (checked at most once a second)."""
        if not self.keep_lease() or time.monotonic() > self.lease_deadline:
            return False
        checked = self.active_checked.get(campaign_id, 0.0)
        if time.monotonic() - checked < 1.0:
            return True
        active = Campaign.objects.filter(
            pk=campaign_id, status__in=ACTIVE_CAMPAIGN_STATUSES).exists()
        self.active_checked[campaign_id] = time.monotonic() if active else -1e9
        return active

    # -- rendering --------------------------------------------------------------------------
    def outgoing(self, row: Delivery, contact: str) -> Outgoing:
        opt_out = self.opt_outs.url(recipient=row.recipient, channel=row.channel)
        rendered = self.rendered(row, opt_out)
        return Outgoing(
            delivery_id=str(row.pk), to=contact, subject=rendered.subject,
            text=rendered.text, html=rendered.html, opt_out_url=opt_out,
            metadata={"campaign": row.campaign_id,
                      "referral_code": row.campaign.referral_code})

    def rendered(self, row: Delivery, opt_out: str) -> Any:
        """Render once per (message, country, language, stage) per batch; the opt-out link is
        the only per-person part and is swapped in afterwards."""
        recipient = row.recipient
        key = (row.message_id, recipient.country, recipient.language, recipient.stage)
        if key not in self.renders:
            context = build_render_context(
                campaign=row.campaign, country=recipient.country,
                language=row.message.language or recipient.language,
                stage=recipient.stage or None, link_signer=help_link_signer,
                opt_out_url=OPT_OUT_SENTINEL, at=timezone.now())
            rendered = render_message(message=row.message, context=context)
            uses_link = "opt_out_link" in (row.message.body + row.message.subject)
            swappable = not uses_link or OPT_OUT_SENTINEL in rendered.text + rendered.html
            self.renders[key] = (rendered, context, swappable)
        rendered, context, swappable = self.renders[key]
        if not swappable:  # a filter changed the link: render this person on their own
            rendered = render_message(message=row.message,
                                      context=replace(context, opt_out_link=opt_out))
        else:
            rendered = replace(
                rendered,
                subject=rendered.subject.replace(OPT_OUT_SENTINEL, opt_out),
                text=rendered.text.replace(OPT_OUT_SENTINEL, opt_out),
                html=rendered.html.replace(OPT_OUT_SENTINEL, html_lib.escape(opt_out)))
        # Help links go through the signed /go/ redirect, signed for this delivery's exposure
        # (whose id is the delivery id), so a click is counted against the right arm.
        return replace(rendered,
                       text=personalise_help_links(rendered.text, exposure_id=row.pk),
                       html=personalise_help_links(rendered.html, exposure_id=row.pk))


def _outcome(row: Delivery, result: Any) -> Outcome:
    if isinstance(result, SendResult):
        return Outcome(row, Result.SENT, provider_message_id=result.provider_message_id)
    if isinstance(result, TransientError):
        return Outcome(row, Result.RETRY, result.reason, retry_after=result.retry_after)
    if isinstance(result, PermanentError):
        return Outcome(row, Result.FAILED, result.reason, suppress=result.suppress)
    if not isinstance(result, Exception):
        result = TypeError(type(result).__name__)
    logger.error("unexpected error from the %s adapter: %s", row.channel,
                 type(result).__name__)
    return Outcome(row, Result.RETRY, f"unexpected {type(result).__name__}")
