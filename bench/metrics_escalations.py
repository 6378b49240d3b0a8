"""How long the escalation rules take on seed_demo data.

    python -m bench.metrics_escalations [--accounts 50]

Runs against the database in DATABASE_URL (seed it with `make seed-large`). Times two full
runs of `escalations_evaluate()` (the 5-minute job: the first opens every flag the data
calls for, the second finds nothing new), then the rules of --accounts random single
accounts (what the debounced per-account recompute runs). It writes what the job writes.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import time

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "cxplatform.settings")
os.environ.setdefault("DEBUG", "0")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--accounts", type=int, default=50)
    args = parser.parse_args()

    import django

    django.setup()
    from accounts.models import Account
    from metrics.services.escalations import escalations_evaluate

    for run in (1, 2):
        started = time.perf_counter()
        summary = escalations_evaluate()
        elapsed = time.perf_counter() - started
        opened = sum(rule["opened"] for rule in summary.values() if isinstance(rule, dict))
        print(f"full run {run}: {elapsed:.2f} s, {opened:,} flags opened")
        for code, rule in summary.items():
            if isinstance(rule, dict):
                print(f"  {code:<24} firing {rule['firing']:>6,}  opened {rule['opened']:>6,}")

    ids = list(Account.objects.values_list("pk", flat=True))
    random.seed(1)
    timings = []
    for pk in random.sample(ids, min(args.accounts, len(ids))):
        started = time.perf_counter()
        escalations_evaluate(account_ids=[pk])
        timings.append((time.perf_counter() - started) * 1000)
    timings.sort()
    p95 = timings[max(0, round(0.95 * len(timings)) - 1)]
    print(
        f"one account, {len(timings)} accounts: p50 {statistics.median(timings):.1f} ms, "
        f"p95 {p95:.1f} ms, max {timings[-1]:.1f} ms"
    )


if __name__ == "__main__":
    main()
