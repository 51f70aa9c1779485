"""Counting a segment over 1,000,000 recipients (target < 1 s) and the predicate (< 20 µs).

    DATABASE_URL=postgres://postgres@127.0.0.1/outreach .venv/bin/python bench/segments_count.py

The rule reads two built-in fields and one custom attribute. Baselines in the same run: the
same question as a hand-written `SELECT count(*)`, and the same test as a hand-written Python
expression over the same context dict.
"""

from __future__ import annotations

import argparse
import timeit
from datetime import UTC, datetime

from _segments_db import scratch_database, table, timed
from django.db import connection

from organisations.models import Organisation
from organisations.services import Actor
from segments.models import Recipient
from segments.selectors import segment_count
from segments.services import custom_attribute_create, segment_create
from segments.targeting import recipient_context

RULE = 'country in ("GB", "IE") and age >= 18 and risk_level = "high"'
NOW = datetime(2026, 11, 25, 12, tzinfo=UTC)
BASELINE_SQL = """
    SELECT count(*) FROM segments_recipient
    WHERE organisation_id = %s AND status = 'active' AND country IN ('GB', 'IE')
      AND age >= 18 AND attributes ->> 'risk_level' = 'high'
"""


def fill(organisation: Organisation, rows: int) -> None:
    """Insert `rows` recipients in one statement (generate_series): seconds, not minutes."""
    with connection.cursor() as cursor:
        cursor.execute("""
            INSERT INTO segments_recipient (organisation_id, reference_key_id,
                reference_pseudonym, stage, country, language, time_zone, age, attributes,
                status, created_at, updated_at, data_key_wrapped)
            SELECT %s, 'bench', md5(i::text), 'offender',
                (ARRAY['GB', 'IE', 'DE', 'NL', 'FR'])[1 + i %% 5], 'en', 'UTC',
                CASE WHEN i %% 10 = 0 THEN NULL ELSE 14 + i %% 50 END,
                jsonb_build_object('risk_level', (ARRAY['low', 'medium', 'high'])[1 + i %% 3],
                                   'release_date', to_char(DATE '2026-01-01' + (i %% 300),
                                                           'YYYY-MM-DD')),
                CASE WHEN i %% 20 = 0 THEN 'paused' ELSE 'active' END, now(), now(), ''
            FROM generate_series(1, %s) AS i
        """, [organisation.pk, rows])
        cursor.execute("ANALYZE segments_recipient")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    with scratch_database():
        organisation = Organisation.objects.create(name="Bench", slug="bench",
                                                   kind="programme_owner")
        custom_attribute_create(organisation=organisation, name="risk_level", type="choice",
                                choices=["low", "medium", "high"], actor=Actor.system())
        segment = segment_create(organisation=organisation, name="Bench", stage="offender",
                                 rule=RULE, actor=Actor.system())
        fill_seconds, _ = timed(lambda: fill(organisation, args.rows))

        def baseline() -> int:
            with connection.cursor() as cursor:
                cursor.execute(BASELINE_SQL, [organisation.pk])
                return cursor.fetchone()[0]

        baseline()  # warm the cache for both
        base_seconds, base_count = timed(baseline, repeat=args.repeat)
        rule_seconds, rule_count = timed(
            lambda: segment_count(segment=segment, now=NOW), repeat=args.repeat)
        assert rule_count == base_count, (rule_count, base_count)

        from segments.selectors import segment_rule

        rule = segment_rule(segment)
        context = recipient_context(Recipient.objects.filter(
            organisation=organisation, country="GB", age__gte=18).first())
        loops = 200_000
        predicate_us = min(timeit.repeat(lambda: rule.matches(context, now=NOW),
                                         number=loops, repeat=3)) / loops * 1e6
        countries = frozenset({"GB", "IE"})

        def by_hand() -> bool:
            age = context.get("age")
            return (context.get("country") in countries and age is not None and age >= 18
                    and context.get("risk_level") == "high")

        hand_us = min(timeit.repeat(by_hand, number=loops, repeat=3)) / loops * 1e6
        print(f"rule: {RULE}\n{args.rows:,} recipients inserted in {fill_seconds:.1f} s; "
              f"{rule_count:,} match\n")
        table([
            ("measure", "median", "target", "vs baseline"),
            ("baseline: plain SELECT count(*)", f"{base_seconds * 1000:.0f} ms", "", "1.0x"),
            ("segment_count (compiled rule, ORM)", f"{rule_seconds * 1000:.0f} ms", "< 1000 ms",
             f"{rule_seconds / base_seconds:.2f}x"),
            ("baseline: hand-written Python test", f"{hand_us:.2f} µs", "", "1.0x"),
            ("Rule.matches(context)", f"{predicate_us:.2f} µs", "< 20 µs",
             f"{predicate_us / hand_us:.2f}x"),
        ])
        met = rule_seconds < 1 and predicate_us < 20
        print(f"\ntargets {'met' if met else 'NOT met'}")


if __name__ == "__main__":
    main()
