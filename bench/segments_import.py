"""Bulk import of 100,000 recipients (target: under 30 s on PostgreSQL).

    DATABASE_URL=postgres://postgres@127.0.0.1/outreach .venv/bin/python bench/segments_import.py
    ... bench/segments_import.py --rows 20000     # a quick run (prints a linear projection)

Baseline in the same run: bulk_create of the same number of bare Recipient rows (no parsing,
validation, pseudonyms or encryption), i.e. what the database alone costs.
"""

from __future__ import annotations

import argparse
import io
import os

from _segments_db import scratch_database, table, timed

from organisations.models import Organisation
from organisations.services import Actor
from segments.models import ContactPoint, Recipient
from segments.recipients import recipients_import_file
from segments.services import custom_attribute_create

STAGES = ("offender", "at_risk", "concerned_other")
COUNTRIES = ("GB", "IE", "DE", "NL")
TARGET_ROWS = 100_000
TARGET_SECONDS = 30


def csv_file(rows: int, *, prefix: str) -> bytes:
    out = io.StringIO()
    out.write("reference,stage,country,language,age,email,phone,consent_basis,"
              "consent_source,release_date,risk_level\n")
    for i in range(rows):
        phone = f"+44770090{i % 10000:04d}" if i % 2 else ""
        out.write(f"{prefix}-{i:07d},{STAGES[i % 3]},{COUNTRIES[i % 4]},en,{18 + i % 60},"
                  f"person{i}@example.org,{phone},public_task,probation intake,"
                  f"2026-{1 + i % 12:02d}-{1 + i % 28:02d},{('low', 'high')[i % 2]}\n")
    return out.getvalue().encode()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=TARGET_ROWS,
                        help="rows per import (default: the target's 100,000)")
    rows = parser.parse_args().rows
    with scratch_database():
        organisation = Organisation.objects.create(name="Bench", slug="bench",
                                                   kind="probation_justice")
        actor = Actor.system()
        custom_attribute_create(organisation=organisation, name="release_date", type="date",
                                actor=actor)
        custom_attribute_create(organisation=organisation, name="risk_level", type="choice",
                                choices=["low", "high"], actor=actor)
        content = csv_file(rows, prefix="REF")

        def baseline() -> None:
            Recipient.objects.bulk_create(
                (Recipient(organisation=organisation, reference_key_id="bench",
                           reference_pseudonym=f"{i:064d}") for i in range(rows)),
                batch_size=1000)

        base_seconds, _ = timed(baseline)
        Recipient.objects.filter(reference_key_id="bench").delete()

        def run():  # type: ignore[no-untyped-def]
            return recipients_import_file(organisation=organisation, content=content,
                                          format="csv", actor=actor)

        create_seconds, report = timed(run)
        update_seconds, again = timed(run)
        contacts = ContactPoint.objects.count()
        table([
            ("operation", "rows", "seconds", "rows/s", "vs baseline"),
            ("baseline: bulk_create bare rows", f"{rows:,}", f"{base_seconds:.2f}",
             f"{rows / base_seconds:,.0f}", "1.0x"),
            (f"import CSV, new ({report.created:,} created, {contacts:,} contacts)",
             f"{rows:,}", f"{create_seconds:.2f}", f"{rows / create_seconds:,.0f}",
             f"{create_seconds / base_seconds:.1f}x"),
            (f"import CSV again ({again.updated:,} updated)", f"{rows:,}",
             f"{update_seconds:.2f}", f"{rows / update_seconds:,.0f}",
             f"{update_seconds / base_seconds:.1f}x"),
        ])
        slowest = max(create_seconds, update_seconds)
        if rows >= TARGET_ROWS:
            print(f"\ntarget: {TARGET_ROWS:,} rows in under {TARGET_SECONDS} s -> "
                  f"{'met' if slowest < TARGET_SECONDS else 'NOT met'}")
        else:
            print(f"\ntarget is {TARGET_ROWS:,} rows in under {TARGET_SECONDS} s; linear "
                  f"projection from {rows:,} rows: {slowest * TARGET_ROWS / rows:.0f} s "
                  "(run without --rows to measure it)")
        # Other processes share the machine: the ratio to the baseline, measured in this same
        # run, is the comparable figure; the load average says how busy the machine was.
        print("load average (1, 5, 15 min): "
              + ", ".join(f"{load:.1f}" for load in os.getloadavg())
              + f" on {os.cpu_count()} CPUs")
        print(f"file size {len(content) / 1e6:.1f} MB; rejected rows: {report.rejected_rows}")


if __name__ == "__main__":
    main()
