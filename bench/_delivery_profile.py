"""Where a send lane's time goes: cProfile of in-process batches against the benchmark sinks.

    .venv/bin/python bench/_delivery_profile.py [people] [email|sms|both]

NO_PROFILE=1 measures CPU time per message without the profiler's overhead.
Seeds like bench/delivery_send.py, fans out in-process, then claims and sends every row in this
one process under cProfile (no Celery), and prints the top functions by cumulative and own time.
"""

from __future__ import annotations

import cProfile
import os
import pstats
import sys
import time
import uuid

sys.path.insert(0, os.path.dirname(__file__))
from _delivery_env import Processes, fresh_database, start_redis, start_sinks

PEOPLE = int(sys.argv[1]) if len(sys.argv) > 1 else 3_000
WHICH = sys.argv[2] if len(sys.argv) > 2 else "both"


def main() -> None:
    with Processes() as processes:
        redis_url = start_redis(processes)
        os.environ["REDIS_URL"] = f"{redis_url}/0"
        os.environ["CACHE_URL"] = f"{redis_url}/0"
        fresh_database()
        smtp_port, http_port = start_sinks(processes)
        import delivery_send

        delivery_send.PEOPLE = PEOPLE
        campaigns = delivery_send.seed(smtp_port, http_port)
        from django.conf import settings
        from django.utils import timezone

        from campaigns.models import Campaign, Schedule
        from delivery.fanout import schedule_fan_out
        from delivery.sending import deliveries_send
        from delivery.services import deliveries_claim

        chosen = [campaigns[name] for name in ("email", "sms") if WHICH in (name, "both")]
        Campaign.objects.exclude(pk__in=[c.pk for c in chosen]).update(status="paused")
        for schedule in Schedule.objects.filter(campaign__in=chosen):
            Schedule.objects.filter(pk=schedule.pk).update(next_fire_at=timezone.now())
            schedule_fan_out(schedule_id=schedule.pk, now=timezone.now())
        batch = settings.DELIVERY_BATCH_SIZE
        profile = cProfile.Profile()
        sent = 0
        started, cpu_started = time.monotonic(), time.process_time()
        if not os.environ.get("NO_PROFILE"):
            profile.enable()
        while True:
            worker_id = f"profile:{uuid.uuid4().hex[:12]}"
            claimed_at = time.monotonic()
            ids = deliveries_claim(limit=batch, worker_id=worker_id, now=timezone.now())
            if not ids:
                break
            report = deliveries_send(ids=ids, worker_id=worker_id,
                                     lease_deadline=claimed_at + settings.DELIVERY_LEASE_SECONDS)
            sent += report.sent
        profile.disable()
        elapsed, cpu = time.monotonic() - started, time.process_time() - cpu_started
        print(f"\nsent {sent:,} in {elapsed:.2f}s wall ({sent / elapsed:,.0f}/s), "
              f"CPU {1000 * cpu / max(sent, 1):.3f} ms per message")
        if os.environ.get("NO_PROFILE"):
            return
        if os.environ.get("PROFILE_OUT"):  # for pstats' callers/callees views
            profile.dump_stats(os.environ["PROFILE_OUT"])
        stats = pstats.Stats(profile)
        stats.sort_stats("cumulative").print_stats(45)
        stats.sort_stats("tottime").print_stats(30)


if __name__ == "__main__":
    main()
