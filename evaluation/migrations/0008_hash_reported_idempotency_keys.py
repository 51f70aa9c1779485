"""Reported idempotency keys stored before they were hashed (`r:` + the raw key) become their
keyed hash (`rh:` + HMAC, evaluation.idempotency), so no raw key a partner sent stays stored.

Reads only (id, reporter, key): a row may hold a date Python cannot represent. Not reversible
(the raw keys are gone): reversing leaves the hashes, and code from before this would count a
replay of one of those keys again.
"""

from django.db import migrations

BATCH = 2000


def hash_raw_keys(apps, schema_editor):  # type: ignore[no-untyped-def]
    from evaluation.idempotency import RAW_REPORTED_PREFIX, reported_keys

    Outcome = apps.get_model("evaluation", "Outcome")
    raw = Outcome.objects.filter(idempotency_key__startswith=RAW_REPORTED_PREFIX,
                                 reported_by__isnull=False)
    last = 0
    while True:
        rows = list(raw.filter(pk__gt=last).order_by("pk")
                    .values_list("pk", "reported_by_id", "idempotency_key")[:BATCH])
        if not rows:
            return
        last = rows[-1][0]
        by_reporter: dict[int, list[tuple[int, str]]] = {}
        for pk, reporter_id, key in rows:
            by_reporter.setdefault(reporter_id, []).append(
                (pk, key[len(RAW_REPORTED_PREFIX):]))
        changed = []
        for reporter_id, items in by_reporter.items():
            hashed = reported_keys(reporter_id, [key for _, key in items])
            changed += [Outcome(pk=pk, idempotency_key=new)
                        for (pk, _), new in zip(items, hashed, strict=True)]
        Outcome.objects.bulk_update(changed, ["idempotency_key"])


class Migration(migrations.Migration):

    dependencies = [
        ("evaluation", "0007_learning_outcome_kinds"),
    ]

    operations = [
        migrations.RunPython(hash_raw_keys, migrations.RunPython.noop),
    ]
