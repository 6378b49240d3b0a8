"""How long the nightly metrics job takes on seed_demo data.

    python -m bench.metrics_nightly [--day YYYY-MM-DD] [--runs 2] [--no-health]
                                    [--out bench/results/metrics_nightly.json]

Runs against the database in DATABASE_URL (seed it with `make seed-large`: 10,000 accounts,
1,000,000 tickets). Measures, for --day (default yesterday):

1. `snapshots_nightly` (the beat job: the day's snapshots of every catalogue metric, plus FCR
   of the 7 days before it), --runs times: the first run writes the day from scratch (its
   rows are removed first: the worst case, as the hourly run has usually written most of
   them already), the next ones find every row equal and rewrite nothing;
2. where a run goes: each metric family's statement, with the day's rows of that family
   removed first so that the time includes writing them (each rolled back afterwards);
3. `metrics.services.health.health_recompute_all` for today (the other half of the nightly
   budget), once, when that function exists and --no-health is not given.

It writes what the jobs write (the day's snapshots, today's health); nothing else.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "cxplatform.settings")
os.environ.setdefault("DEBUG", "0")

NIGHTLY_TARGET_S = 60  # issue 7: all snapshots and all health scores of a day


class _Rollback(Exception):
    pass


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--day", help="The day to snapshot, YYYY-MM-DD (default: yesterday).")
    parser.add_argument("--runs", type=int, default=2)
    parser.add_argument("--no-health", action="store_true")
    parser.add_argument("--out", type=Path, default=Path("bench/results/metrics_nightly.json"))
    args = parser.parse_args(argv)

    import django

    django.setup()
    from django.db import connection, transaction
    from django.utils import timezone

    from metrics.models import MetricSnapshot
    from metrics.services import snapshots
    from support.models import Ticket

    tickets = Ticket.objects.count()
    if not tickets:
        print("No data: run `make seed-large` first.", file=sys.stderr)
        return 2
    today = timezone.localdate()
    day = dt.date.fromisoformat(args.day) if args.day else today - dt.timedelta(days=1)
    print(f"{tickets:,} tickets; snapshots of {day.isoformat()}\n")
    results: dict[str, object] = {"tickets": tickets, "day": str(day)}

    MetricSnapshot.objects.filter(day=day).delete()
    runs = []
    for run in range(1, args.runs + 1):
        started = time.perf_counter()
        written = snapshots.snapshots_nightly(today=day + dt.timedelta(days=1))
        seconds = time.perf_counter() - started
        runs.append(seconds)
        rows = MetricSnapshot.objects.filter(day=day).count()
        print(
            f"snapshots_nightly, run {run}: {written:,} rows written ({rows:,} rows for the "
            f"day) in {seconds:.2f} s"
        )
    results["nightly_seconds"] = runs

    print("\nEach family's statement, writing its rows (rolled back):")
    families = {}
    for family in snapshots.FAMILIES:
        sql, params = snapshots.snapshot_statement(family.name, day=day)
        try:
            with transaction.atomic(), connection.cursor() as cursor:
                MetricSnapshot.objects.filter(day=day, metric__in=family.metrics).delete()
                started = time.perf_counter()
                cursor.execute(sql, params)
                written = cursor.fetchone()[0]
                seconds = time.perf_counter() - started
                raise _Rollback
        except _Rollback:
            pass
        families[family.name] = {"seconds": round(seconds, 3), "rows": written}
        print(f"  {family.name:<10} {seconds * 1000:8.0f} ms  {written:7,} rows")
    results["families"] = families

    health_seconds = None
    if not args.no_health:
        try:
            from metrics.services.health import health_recompute_all
        except ImportError:
            print("\n(metrics.services.health.health_recompute_all does not exist yet)")
        else:
            started = time.perf_counter()
            scored = health_recompute_all(day=today)
            health_seconds = time.perf_counter() - started
            print(
                f"\nhealth_recompute_all ({today}): {scored:,} accounts in {health_seconds:.2f} s"
            )
    results["health_seconds"] = health_seconds

    total = runs[0] + (health_seconds or 0)
    ok = total < NIGHTLY_TARGET_S
    print(
        f"\nNightly job: snapshots {runs[0]:.2f} s"
        + (f" + health {health_seconds:.2f} s" if health_seconds is not None else "")
        + f" = {total:.2f} s   {'ok' if ok else 'OVER'} (target < {NIGHTLY_TARGET_S} s)"
    )
    results["nightly_total_seconds"] = round(total, 2)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2))
    print(f"Written to {args.out}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
