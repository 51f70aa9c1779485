"""Batch outcome ingestion: events per second through POST /api/v1/outcomes/batch.

    .venv/bin/python bench/interventions_outcomes.py [--batches 5] [--exposures 10000]

Seeds exposures (through evaluation.services.exposure_record), then uploads NDJSON batches of
10,000 events to a gunicorn on loopback (PostgreSQL + Redis): new events referencing
intervention ids, a replay of a batch (all duplicates) and a batch by referral code. The
baseline, measured in the same run, is a bare bulk insert of 10,000 Outcome rows in this
process (the floor any validated ingestion is compared with), rolled back as it always was,
and once more committed: an upload commits, and the commit runs the deferred foreign-key
checks of every row. Target: >= 20,000 events/s.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import statistics
import time
from datetime import UTC, datetime

from _interventions_env import Server, ensure_database, seed, table

BATCH = 10_000


def seed_exposures(*, campaign, partner, count: int) -> list[str]:  # type: ignore[no-untyped-def]
    from django.db import transaction

    from campaigns.models import Arm
    from core.pseudonyms import pseudonymise
    from evaluation.models import Exposure
    from evaluation.services import exposure_record

    existing = list(Exposure.objects.filter(campaign=campaign, partner=partner)
                    .values_list("id", flat=True)[:count])
    arm = Arm.objects.filter(campaign=campaign, kind="variant").first()
    with transaction.atomic():
        for i in range(count - len(existing)):
            subject = pseudonymise(f"bench-outcomes-{i}-{time.time_ns()}",
                                   purpose=f"session:{partner.pk}")
            existing.append(exposure_record(
                campaign=campaign, arm=arm, subject=subject, source="intervention",
                channel="on_platform", country="GB", language="en", partner=partner).pk)
    return [str(pk) for pk in existing]


def ndjson(events: list[dict]) -> bytes:
    return ("\n".join(json.dumps(e, separators=(",", ":")) for e in events) + "\n").encode()


def upload(server: Server, *, key: str, body: bytes) -> tuple[float, dict]:
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=120)
    started = time.perf_counter()
    connection.request("POST", "/api/v1/outcomes/batch", body=body, headers={
        "Content-Type": "application/x-ndjson", "Authorization": f"Bearer {key}"})
    response = connection.getresponse()
    payload = response.read()
    elapsed = time.perf_counter() - started
    connection.close()
    if response.status != 200:
        raise SystemExit(f"batch upload answered {response.status}: {payload[:300]!r}")
    return elapsed, json.loads(payload)


def baseline(*, campaign, reporter, commit: bool = False) -> float:  # type: ignore[no-untyped-def]
    """Seconds for a bare bulk insert of BATCH outcomes, rolled back before the commit (so
    without the deferred foreign-key checks), or with `commit` committed and then deleted."""
    from django.db import transaction

    from evaluation.models import Outcome

    run = time.time_ns()
    rows = [Outcome(organisation_id=campaign.organisation_id, reported_by=reporter,
                    campaign=campaign, kind="help_click", idempotency_key=f"base-{run}-{i}")
            for i in range(BATCH)]
    started = time.perf_counter()
    with transaction.atomic():
        Outcome.objects.bulk_create(rows, ignore_conflicts=True, batch_size=2000)
        elapsed = time.perf_counter() - started
        transaction.set_rollback(not commit)
    if commit:
        elapsed = time.perf_counter() - started
        Outcome.objects.filter(idempotency_key__startswith=f"base-{run}-").delete()
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--batches", type=int, default=5)
    parser.add_argument("--exposures", type=int, default=10_000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--port", type=int, default=int(os.environ.get("BENCH_PORT", 8766)))
    args = parser.parse_args()

    ensure_database()
    data = seed()
    ids = seed_exposures(campaign=data["campaign"], partner=data["partner"],
                         count=args.exposures)
    run = time.time_ns()
    # Just after the exposures were seeded: a fixed date falls outside the accepted window
    # around its exposure once the calendar moves on, and every event would be rejected.
    occurred_at = datetime.now(UTC).isoformat()
    rows = [("upload", "events", "seconds", "events/s", "accepted", "duplicates", "rejected")]
    rates = []
    server = Server(port=args.port, workers=args.workers, worker_class="sync", threads=1)
    try:
        upload(server, key=data["secret"], body=ndjson([{  # warm-up
            "kind": "help_click", "idempotency_key": f"warm-{run}",
            "intervention_id": ids[0]}]))
        first_body = b""
        for number in range(args.batches):
            events = [{"kind": "search_abandoned", "idempotency_key": f"{run}-{number}-{i}",
                       "intervention_id": ids[i % len(ids)],
                       "occurred_at": occurred_at} for i in range(BATCH)]
            body = ndjson(events)
            first_body = first_body or body
            elapsed, report = upload(server, key=data["secret"], body=body)
            rates.append(BATCH / elapsed)
            rows.append(_row(f"new #{number + 1}", elapsed, report))
        elapsed, report = upload(server, key=data["secret"], body=first_body)
        rows.append(_row("replay of #1", elapsed, report))
        by_code = ndjson([{"kind": "helpline_contact", "idempotency_key": f"{run}-code-{i}",
                           "referral_code": data["referral_code"]} for i in range(BATCH)])
        elapsed, report = upload(server, key=data["secret"], body=by_code)
        rows.append(_row("by referral code", elapsed, report))
    finally:
        server.stop()
    floor = baseline(campaign=data["campaign"], reporter=data["partner"])
    rows.append(("baseline: bulk_create only", str(BATCH), f"{floor:.3f}",
                 f"{BATCH / floor:,.0f}", "-", "-", "-"))
    committed = baseline(campaign=data["campaign"], reporter=data["partner"], commit=True)
    rows.append(("baseline: bulk_create + commit", str(BATCH), f"{committed:.3f}",
                 f"{BATCH / committed:,.0f}", "-", "-", "-"))
    print(f"\nNDJSON outcome ingestion, batches of {BATCH:,} events, gunicorn "
          f"{args.workers} x sync on loopback, {os.cpu_count()} CPUs\n")
    table(rows)
    median = statistics.median(rates)
    print(f"\nmedian over new batches: {median:,.0f} events/s (target >= 20,000) "
          f"{'PASS' if median >= 20_000 else 'FAIL'}; {median / (BATCH / floor):.0%} of the "
          "bare insert rate")


def _row(name: str, elapsed: float, report: dict) -> tuple[str, ...]:
    return (name, f"{report['received']:,}", f"{elapsed:.3f}",
            f"{report['received'] / elapsed:,.0f}", f"{report['accepted']:,}",
            f"{report['duplicates']:,}", f"{report['rejected']:,}")


if __name__ == "__main__":
    main()
