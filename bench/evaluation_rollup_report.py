"""Benchmark: rolling up raw exposures, and rendering the report page, on PostgreSQL.

    .venv/bin/python bench/evaluation_rollup_report.py            # 10M rows, 100M in the report
    .venv/bin/python bench/evaluation_rollup_report.py --rows 1000000 --report-exposures 1e7

Targets (issue 7): the rollup of 10,000,000 exposures in under 60 s; the report page of a
campaign with 100,000,000 rolled-up exposures in under 1 s. Each is printed beside a plain
SQL GROUP BY over the same rows, measured in the same run (absolute times drift on a shared
machine; the ratio is the stable figure).

Uses its own database (default postgres://postgres@127.0.0.1:5432/outreach_bench_evaluation,
or BENCH_DATABASE_URL), created and migrated if missing. Raw rows are generated inside
PostgreSQL with generate_series (INSERT ... SELECT), so setup costs no Python loop.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/outreach_bench_evaluation"


def parse() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=10_000_000, help="raw exposures to roll up")
    parser.add_argument("--report-exposures", type=float, default=100_000_000,
                        help="rolled-up exposures in the report's campaign")
    parser.add_argument("--days", type=int, default=90, help="days the report campaign spans")
    parser.add_argument("--repeat", type=int, default=5, help="report renders to time")
    parser.add_argument("--only", choices=["rollup", "report"], help="run one half only")
    return parser.parse_args()


def ensure_database(url: str) -> None:
    import psycopg

    name = url.rsplit("/", 1)[1]
    server = url.rsplit("/", 1)[0] + "/postgres"
    with psycopg.connect(server, autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone()
        if not exists:
            conn.execute(f'CREATE DATABASE "{name}"')


def setup_django(url: str) -> None:
    os.environ["DATABASE_URL"] = url
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "outreach.settings")
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def timed(fn) -> tuple[float, object]:  # type: ignore[no-untyped-def]
    start = time.perf_counter()
    result = fn()
    return time.perf_counter() - start, result


def sql(statement: str, params: list | None = None) -> list:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(statement, params or [])
        return cursor.fetchall() if cursor.description else []


def fixtures() -> tuple:
    from django.contrib.auth import get_user_model

    from campaigns.models import Arm, Campaign
    from organisations.models import Organisation

    organisation, _ = Organisation.objects.get_or_create(
        slug="bench-programme", defaults={"name": "Bench programme", "kind": "programme_owner"})
    campaigns = []
    for name in ("bench rollup", "bench report"):
        campaign, _ = Campaign.objects.get_or_create(organisation=organisation, name=name,
                                                     defaults={"channels": ["on_platform"]})
        for arm_name, kind in (("control", "comparator"), ("legal", "variant"),
                               ("help", "variant"), ("law+help", "variant")):
            Arm.objects.get_or_create(campaign=campaign, name=arm_name, defaults={"kind": kind})
        campaigns.append(campaign)
    user, _ = get_user_model().objects.get_or_create(
        username="bench-evaluator", defaults={"is_staff": True, "is_superuser": True})
    return organisation, campaigns[0], campaigns[1], user


def reset(campaign_ids: list[int]) -> None:
    # This database belongs to the bench alone. CASCADE: other apps' rows that point at
    # exposures (learning's learners) go too, or TRUNCATE refuses.
    sql("TRUNCATE evaluation_outcome, evaluation_exposure, evaluation_dailycell, "
        "evaluation_campaigndailyoutcome, evaluation_armsubjecttotal CASCADE")


def secondary_indexes(table: str) -> list[tuple[str, str]]:
    return [tuple(row) for row in sql(
        "SELECT i.indexname, i.indexdef FROM pg_indexes i WHERE i.tablename = %s AND NOT EXISTS "
        "(SELECT 1 FROM pg_constraint c WHERE c.conname = i.indexname)", [table])]


def generate_exposures(organisation, campaign, rows: int) -> None:  # type: ignore[no-untyped-def]
    """Bulk load as a data import would: secondary indexes dropped and rebuilt afterwards,
    foreign-key triggers off for the load (the ids are known to be valid)."""
    arms = list(campaign.arms.order_by("pk").values_list("pk", flat=True))
    people = max(1, rows // 3)
    indexes = secondary_indexes("evaluation_exposure")
    for name, _ in indexes:
        sql(f'DROP INDEX "{name}"')
    sql("SET session_replication_role = replica")
    sql(
        "INSERT INTO evaluation_exposure (id, organisation_id, campaign_id, arm_id, source, "
        "channel, country, language, trigger, subject_key_id, subject_pseudonym, is_holdout, "
        "occurred_at) "
        # Cell keys vary independently (arm, channel, country, language, day), as in real
        # traffic: about 4 x 3 x 5 x 2 x 30 = 3,600 cells.
        "SELECT gen_random_uuid(), %s, %s, (%s::bigint[])[1 + i %% 4], 'intervention', "
        "(ARRAY['on_platform','email','sms'])[1 + (i / 7) %% 3], "
        "(ARRAY['GB','IE','DE','NL','SE'])[1 + (i / 31) %% 5], "
        "(ARRAY['en','de'])[1 + (i / 101) %% 2], '', '2026-11', md5((i %% %s)::text), false, "
        "timestamptz '2026-11-01 00:00+00' + ((i / 13) %% 30) * interval '1 day' "
        "+ (i %% 86000) * interval '1 second' FROM generate_series(1, %s) AS i",
        [organisation.pk, campaign.pk, arms, people, rows])
    sql("SET session_replication_role = DEFAULT")
    sql("SET maintenance_work_mem = '256MB'")
    for _, definition in indexes:
        sql(definition)
    sql("SELECT setseed(0.7)")
    sql(
        "INSERT INTO evaluation_outcome (organisation_id, exposure_id, campaign_id, kind, "
        "idempotency_key, occurred_at, recorded_at) "
        "SELECT organisation_id, id, campaign_id, "
        "(ARRAY['info_requested','help_click','helpline_contact'])[1 + floor(random() * 3)::int], "
        "id::text, occurred_at, occurred_at FROM evaluation_exposure "
        "WHERE campaign_id = %s AND random() < 0.002", [campaign.pk])
    sql("ANALYZE evaluation_exposure")
    sql("ANALYZE evaluation_outcome")


BASELINE_GROUP_BY = (
    "SELECT campaign_id, arm_id, COALESCE(segment_id, 0), channel, country, language, "
    "(occurred_at AT TIME ZONE 'UTC')::date, COUNT(*), COUNT(DISTINCT subject_pseudonym) "
    "FROM evaluation_exposure GROUP BY 1, 2, 3, 4, 5, 6, 7"
)


def generate_cells(campaign, total: int, days: int) -> int:  # type: ignore[no-untyped-def]
    """Rolled-up cells summing to ``total`` exposures: arms x 3 channels x 5 countries x 2
    languages x days, with reThink-like outcome rates (a variant with +30% clicks)."""
    arms = list(campaign.arms.order_by("pk").values_list("pk", flat=True))
    cells = len(arms) * 3 * 5 * 2 * days
    per_cell = total // cells
    sql(
        "INSERT INTO evaluation_dailycell (campaign_id, arm_id, segment_ref, channel, country, "
        "language, day, exposures, unique_subjects, help_click, chatbot_engaged, "
        "info_requested, helpline_contact, selfhelp_signup, repeat_trigger, search_abandoned, "
        "opt_out, complaint, delivery_failed, module_enrolled, module_completed, updated_at) "
        "SELECT %s, arm, 0, ch, co, la, date '2026-08-01' + d, %s, %s, "
        "round(%s * 0.000175 * CASE WHEN arm = %s THEN 1.3 ELSE 1 END + (d %% 3))::bigint, 0, "
        "round(%s * 0.00059)::bigint, round(%s * 0.0000243 + (d %% 2))::bigint, 0, 0, 0, "
        "round(%s * 0.00001)::bigint, 0, 0, 0, 0, now() "
        "FROM unnest(%s::bigint[]) AS arm, unnest(ARRAY['on_platform','email','sms']) AS ch, "
        "unnest(ARRAY['GB','IE','DE','NL','SE']) AS co, unnest(ARRAY['en','de']) AS la, "
        "generate_series(0, %s - 1) AS d",
        [campaign.pk, per_cell, int(per_cell * 0.8), per_cell, arms[1], per_cell, per_cell,
         per_cell, arms, days])
    sql("ANALYZE evaluation_dailycell")
    return per_cell * cells


BASELINE_REPORT_SQL = (
    "SELECT arm_id, SUM(exposures), SUM(help_click), SUM(info_requested), "
    "SUM(helpline_contact) FROM evaluation_dailycell WHERE campaign_id = %s GROUP BY arm_id"
)


def bench_rollup(args, organisation, campaign) -> list[tuple[str, float, str]]:  # type: ignore[no-untyped-def]
    from evaluation.rollup import arm_subject_totals_refresh, rollup_pending

    setup, _ = timed(lambda: generate_exposures(organisation, campaign, args.rows))
    outcomes = sql("SELECT COUNT(*) FROM evaluation_outcome")[0][0]
    from evaluation.rollup import PG_WORK_MEM

    sql(f"SET work_mem = '{PG_WORK_MEM}'")  # the rollup's own setting: a like-for-like baseline
    baseline, groups = timed(lambda: sql(BASELINE_GROUP_BY))
    sql("RESET work_mem")
    rollup, result = timed(lambda: rollup_pending(batch_size=250_000, max_batches=10_000,
                                                  refresh_subjects=False))
    subjects, _ = timed(lambda: arm_subject_totals_refresh(campaign_id=campaign.pk))
    total = sql("SELECT SUM(exposures), COUNT(*) FROM evaluation_dailycell "
                "WHERE campaign_id = %s", [campaign.pk])[0]
    assert total[0] == args.rows, f"rolled up {total[0]} of {args.rows} exposures"
    assert len(groups) == total[1], "rollup cells differ from the plain GROUP BY"
    return [
        ("setup: generate_series insert", setup, f"{args.rows:,} exposures, {outcomes:,} "
                                                 "outcomes"),
        ("baseline: plain SQL GROUP BY (read only)", baseline, f"{len(groups):,} groups"),
        ("rollup_pending (exposures + outcomes)", rollup,
         f"{result.exposures:,} + {result.outcomes:,} rows -> {total[1]:,} cells; "
         f"target < 60 s"),
        ("arm_subject_totals_refresh", subjects, "distinct subjects per arm (separate task)"),
    ]


def bench_report(args, campaign, user) -> list[tuple[str, float, str]]:  # type: ignore[no-untyped-def]
    from django.core.cache import cache
    from django.test import Client
    from django.urls import reverse

    from evaluation.reports import campaign_report

    exposures = generate_cells(campaign, int(args.report_exposures), args.days)
    cells = sql("SELECT COUNT(*) FROM evaluation_dailycell WHERE campaign_id = %s",
                [campaign.pk])[0][0]
    client = Client()
    client.force_login(user)
    url = reverse("admin:evaluation_campaign_report", args=[campaign.pk])
    client.get(url)  # warm imports, template loading and matplotlib fonts once

    def median(fn) -> float:  # type: ignore[no-untyped-def]
        return statistics.median(timed(fn)[0] for _ in range(args.repeat))

    def cold() -> object:
        cache.clear()  # charts are cached by what they draw: time a first view too
        return client.get(url)

    baseline = median(lambda: sql(BASELINE_REPORT_SQL, [campaign.pk]))
    builder = median(lambda: campaign_report(campaign=campaign))
    first = median(cold)
    page = median(lambda: client.get(url))
    status = client.get(url).status_code
    assert status == 200, f"report page answered {status}"
    return [
        ("baseline: plain SQL GROUP BY arm on cells", baseline, f"{cells:,} cells"),
        ("campaign_report() (stats, disclosure, ITS)", builder, f"{exposures:,} exposures"),
        ("admin report page, charts drawn", first, "4 SVG charts drawn (cache empty)"),
        ("admin report page, charts cached", page, "target < 1 s"),
    ]


def show(name: str, seconds: float, note: str) -> None:
    print(f"{name:<46} {seconds:>9.3f}  {note}", flush=True)


def main() -> None:
    args = parse()
    url = os.environ.get("BENCH_DATABASE_URL", DEFAULT_URL)
    ensure_database(url)
    setup_django(url)
    organisation, rollup_campaign, report_campaign, user = fixtures()
    reset([rollup_campaign.pk, report_campaign.pk])
    print(f"\nEvaluation benchmark on PostgreSQL ({url.rsplit('@', 1)[-1]})")
    print(f"{'step':<46} {'seconds':>9}  notes")
    print("-" * 100, flush=True)
    ratios = []
    if args.only != "report":
        rows = bench_rollup(args, organisation, rollup_campaign)
        for row in rows:
            show(*row)
        ratios.append(f"rollup / plain GROUP BY: {rows[2][1] / rows[1][1]:.1f}x")
    if args.only != "rollup":
        rows = bench_report(args, report_campaign, user)
        for row in rows:
            show(*row)
        ratios.append(f"report page / plain GROUP BY on cells: {rows[-1][1] / rows[0][1]:.0f}x")
    print("\n" + "; ".join(ratios))


if __name__ == "__main__":
    main()
