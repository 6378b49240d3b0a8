"""How long one run of the SLA minute job takes on seed_demo data.

    python -m bench.sla [--runs 20] [--crossed 5000] [--out bench/results/sla.json]

Runs against the database in DATABASE_URL (seed it with `make seed-large`: 1,000,000
tickets, about 50,000 of them unsolved, with their SLA clocks). Measures `sla_alerts_record`:

1. "nothing crossed": a run at the current time right after another run (what most minutes
   look like), repeated --runs times;
2. "N crossed": a run at the instant by which the next --crossed pending warning/breach
   moments have come, as if the job had been stopped until then. Each of these runs is rolled
   back afterwards, so the measurement can be repeated on the same data.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "cxplatform.settings")
os.environ.setdefault("DEBUG", "0")


class _Rollback(Exception):
    pass


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--crossed", type=int, default=5000)
    parser.add_argument("--out", type=Path, default=Path("bench/results/sla.json"))
    args = parser.parse_args(argv)

    import django

    django.setup()
    from django.db import transaction
    from django.utils import timezone

    from support.models import UNSOLVED_Q, SlaAlert, Ticket
    from support.services import sla_alerts_record

    tickets = Ticket.objects.count()
    unsolved = Ticket.objects.filter(UNSOLVED_Q).count()
    if not tickets:
        print("No data: run `make seed-large` first.", file=sys.stderr)
        return 2
    now = timezone.now()
    started = time.perf_counter()
    drained = sla_alerts_record(now=now)
    print(
        f"{tickets:,} tickets, {unsolved:,} unsolved; catching up first: {drained:,} events "
        f"in {time.perf_counter() - started:.2f} s"
    )

    idle = []
    for _ in range(args.runs):
        started = time.perf_counter()
        written = sla_alerts_record(now=now)
        idle.append(time.perf_counter() - started)
        assert written == 0, written

    pending = SlaAlert.objects.filter(recorded_at__isnull=True, at__gt=now).order_by("at", "id")
    cutoff = pending.values_list("at", flat=True)[args.crossed - 1 : args.crossed].first()
    if cutoff is None:
        print(f"Fewer than {args.crossed:,} pending moments in the data.", file=sys.stderr)
        return 2
    due = SlaAlert.objects.filter(recorded_at__isnull=True, at__lte=cutoff).count()
    crossed, events = [], 0
    for _ in range(max(3, args.runs // 4)):
        try:
            with transaction.atomic():
                started = time.perf_counter()
                events = sla_alerts_record(now=cutoff)
                crossed.append(time.perf_counter() - started)
                raise _Rollback
        except _Rollback:
            pass

    def summary(samples: list[float]) -> dict[str, float]:
        ordered = sorted(samples)
        return {
            "runs": len(samples),
            "median_s": round(statistics.median(ordered), 4),
            "max_s": round(ordered[-1], 4),
        }

    result = {
        "tickets": tickets,
        "unsolved": unsolved,
        "nothing_crossed": summary(idle),
        "crossed": {"moments": due, "events": events, **summary(crossed)},
    }
    print(
        f"nothing crossed:        median {result['nothing_crossed']['median_s'] * 1000:.1f} ms, "
        f"max {result['nothing_crossed']['max_s'] * 1000:.1f} ms over {len(idle)} runs "
        "(target < 1 s)"
    )
    print(
        f"{due:,} moments crossed: median {result['crossed']['median_s'] * 1000:.0f} ms, "
        f"max {result['crossed']['max_s'] * 1000:.0f} ms over {len(crossed)} runs, "
        f"{events:,} events "
        "(target < 5 s)"
    )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2))
    print(f"Written to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
