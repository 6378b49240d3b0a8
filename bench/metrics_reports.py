"""Server-time benchmarks of the managers' reports (support, success, alignment).

    python -m bench.metrics_reports [--requests 60] [--only support] \
        [--out bench/results/metrics_reports.json]

Runs against the database in DATABASE_URL, seeded with `make seed-large` (10,000 accounts,
1,000,000 tickets, 24 months of revenue events) with the daily snapshots backfilled
(`manage.py metrics_backfill --from <400 days ago>`). Signed in as the demo manager, it
requests each report over the last 30, 90, 180 and 365 days at each grain, filtered by a team,
an agent, a channel, a tier and a CSM, and one CSV download, through Django's test client
in this process (see bench/run.py for what is timed). Prints p50/p95 per scenario and
writes them as JSON.
"""

from __future__ import annotations

import datetime
import json
import sys

from bench.run import measure, page_bench_parser

TARGET_MS = 300  # issue 7: each report page p95 under 300 ms, reading snapshots


def _scenarios() -> list[tuple[str, str | list[str], float]]:
    from django.urls import reverse
    from django.utils import timezone

    from accounts.choices import Role
    from accounts.models import Team, User

    today = timezone.localdate()

    def period(days: int) -> str:
        return f"from={today - datetime.timedelta(days=days)}&to={today}"

    support = reverse("metrics:report-support")
    success = reverse("metrics:report-success")
    alignment = reverse("metrics:report-alignment")
    team = Team.objects.order_by("pk").values_list("pk", flat=True).first()
    agent = User.objects.filter(role=Role.AGENT).order_by("pk").values_list("pk", flat=True).first()
    csm = User.objects.filter(email="csm@cx.example").values_list("pk", flat=True).first()
    scenarios: list[tuple[str, str | list[str], float]] = []
    for url, name in ((support, "support"), (success, "success"), (alignment, "alignment")):
        scenarios += [
            (f"{name}: 30 days by day", f"{url}?{period(30)}&grain=day", TARGET_MS),
            (f"{name}: 90 days by week (default)", f"{url}?{period(90)}", TARGET_MS),
            (f"{name}: 180 days by day", f"{url}?{period(180)}&grain=day", TARGET_MS),
            (f"{name}: 365 days by week", f"{url}?{period(365)}&grain=week", TARGET_MS),
            (f"{name}: 365 days by month", f"{url}?{period(365)}&grain=month", TARGET_MS),
        ]
    if team:
        scenarios.append(
            ("support: a team, 90 days", f"{support}?{period(90)}&team={team}", TARGET_MS)
        )
    if agent:
        scenarios.append(
            ("support: an agent, 90 days", f"{support}?{period(90)}&agent={agent}", TARGET_MS)
        )
    scenarios += [
        ("support: channel email, 90 days", f"{support}?{period(90)}&channel=email", TARGET_MS),
        ("support: tier enterprise, 90 days", f"{support}?{period(90)}&tier=enterprise", TARGET_MS),
        ("success: tier enterprise, 90 days", f"{success}?{period(90)}&tier=enterprise", TARGET_MS),
        (
            "support: CSV of a chart, 180 days by day",
            f"{support}?{period(180)}&grain=day&format=csv&chart=first_response",
            TARGET_MS,
        ),
    ]
    if csm:
        scenarios.append(
            (
                "success: demo CSM's portfolio, 90 days",
                f"{success}?{period(90)}&csm={csm}",
                TARGET_MS,
            )
        )
    return scenarios


def main(argv: list[str] | None = None) -> int:
    args = page_bench_parser(__doc__, "bench/results/metrics_reports.json").parse_args(argv)

    import django

    django.setup()
    from django.db.models import Max, Min
    from django.test import Client

    from accounts.models import Account, User
    from metrics.models import MetricSnapshot

    manager = User.objects.filter(email="manager@cx.example").first()
    if manager is None:
        print("No demo data: run `make seed-large`.", file=sys.stderr)
        return 2
    snapshots = MetricSnapshot.objects.aggregate(first=Min("day"), last=Max("day"))
    rows = MetricSnapshot.objects.count()
    if not rows:
        print(
            "No snapshots: run `manage.py metrics_backfill --from <400 days ago>` first.",
            file=sys.stderr,
        )
        return 2
    client = Client(HTTP_HOST="localhost")
    client.force_login(manager)
    print(
        f"{Account.objects.count():,} accounts; {rows:,} snapshot rows from "
        f"{snapshots['first']} to {snapshots['last']}; {args.requests} requests per scenario\n"
    )
    results, failed = measure(client, _scenarios(), requests=args.requests, only=args.only)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(
        json.dumps(
            {
                "accounts": Account.objects.count(),
                "snapshot_rows": rows,
                "snapshot_days": [str(snapshots["first"]), str(snapshots["last"])],
                "results": results,
            },
            indent=2,
        )
    )
    print(f"\nWritten to {args.out}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
