"""Server-time benchmarks of the REST API (issue 8) against seed_demo data.

    python -m bench.api [--requests 60] [--only export] [--out bench/results/api.json]

Runs against the database in DATABASE_URL, seeded with `make seed-large` (10,000 accounts,
1,000,000 tickets) and, for the metrics calls, with the daily snapshots backfilled
(`manage.py metrics_backfill --from <100 days ago>`). Each request goes through Django's
test client in this process with a bearer token of the demo manager (every scope), so what
is timed is the server's work for one request: token check, rate-limit counter in Redis,
permissions, queries, serialization to JSON (see bench/run.py). The rate limit is raised
for the run (CX_API_RATE_LIMIT), or the benchmark would time 429s.

Scenarios: the ticket list (first page, a page by cursor, 100 a page), filtered lists, one
ticket, ticket create (POST: each request opens a real ticket through the services, with
its first message, SLA clocks and events), every metric over 30 and 90 days, and full
export pages of 1,000 tickets. Throughput over HTTP is bench/api_load.py's.
"""

from __future__ import annotations

import datetime
import json
import os
import sys

os.environ.setdefault("CX_API_RATE_LIMIT", "10000000")

from bench.run import measure, page_bench_parser

TARGETS_MS = {"list": 100, "create": 50, "metrics": 200, "export": 500, "detail": 100}


def bench_token(email: str = "manager@cx.example") -> str:
    """A fresh all-scopes token for the demo user `email` (named so it can be found)."""
    from accounts.models import ApiScope, User
    from accounts.services import api_token_create

    user = User.objects.get(email=email)
    _token, secret = api_token_create(user=user, name="bench", scopes=list(ApiScope.values))
    return secret


def _scenarios(client) -> list[tuple[str, object, float]]:
    """(name, request or requests to cycle through, target p95 ms); a request is a URL to
    GET or a ("POST", URL, JSON body) tuple."""
    from django.utils import timezone

    from accounts.models import Team, User
    from metrics.api.views import METRICS as API_METRICS
    from support.models import Ticket

    today = timezone.localdate()
    tickets = "/api/v1/tickets/"
    scenarios: list[tuple[str, object, float]] = [
        ("tickets: first page (50)", tickets, TARGETS_MS["list"]),
        ("tickets: first page (100)", f"{tickets}?page_size=100", TARGETS_MS["list"]),
    ]
    second = client.get(tickets, secure=True).json()["next"]
    scenarios.append(("tickets: page 2 (cursor)", second, TARGETS_MS["list"]))
    team = Team.objects.order_by("pk").values_list("pk", flat=True).first()
    agent = User.objects.filter(email="agent@cx.example").values_list("pk", flat=True).first()
    week_ago = (timezone.now() - datetime.timedelta(days=7)).strftime("%Y-%m-%dT%H:%M:%SZ")
    for name, query in (
        ("open, urgent", "status=open&priority=urgent"),
        ("enterprise, email", "tier=enterprise&channel=email"),
        ("a team, open or pending", f"team={team}&status=open&status=pending"),
        ("an agent's tickets", f"assignee={agent}"),
        ("at-risk accounts", "at_risk=1"),
        ("tag", "tag=billing"),
        ("updated in the last 7 days", f"updated_since={week_ago}"),
    ):
        scenarios.append((f"tickets: filtered ({name})", f"{tickets}?{query}", TARGETS_MS["list"]))
    top = Ticket.objects.order_by("-id").values_list("id", flat=True).first() or 1
    numbers = [top - step * 9_973 for step in range(60) if top - step * 9_973 > 0]
    scenarios.append(
        ("tickets: one ticket", [f"{tickets}{n}/" for n in numbers], TARGETS_MS["detail"])
    )
    scenarios.append(
        (
            "tickets: create",
            (
                "POST",
                tickets,
                {
                    "subject": "Export to CSV fails for large reports",
                    "description": "Since this morning the export stops at 10,000 rows.",
                    "requester": "bench.requester@acme-bench.example",
                    "priority": "high",
                    "type": "problem",
                    "tags": ["export", "bench"],
                },
            ),
            TARGETS_MS["create"],
        )
    )
    for days in (30, 90):
        period = f"from={today - datetime.timedelta(days=days)}&to={today}"
        scenarios.append(
            (
                f"metrics: each of {len(API_METRICS)}, {days} days",
                [f"/api/v1/metrics/{name}/?{period}" for name in API_METRICS],
                TARGETS_MS["metrics"],
            )
        )
    scenarios.append(
        (
            "metrics: csat of a team, 90 days",
            f"/api/v1/metrics/csat/?from={today - datetime.timedelta(days=90)}&to={today}"
            f"&team={team}",
            TARGETS_MS["metrics"],
        )
    )
    # Export: start at different moments of the last year, each a full page of 1,000.
    starts = [
        (timezone.now() - datetime.timedelta(days=days)).strftime("%Y-%m-%dT%H:%M:%SZ")
        for days in range(360, 20, -17)
    ]
    scenarios.append(
        (
            "export: a page of 1,000 tickets",
            [f"/api/v1/export/tickets/?start_time={start}" for start in starts],
            TARGETS_MS["export"],
        )
    )
    return scenarios


def _send(client, request):
    """A GET of a URL, or a JSON POST of a ("POST", URL, body) tuple."""
    if isinstance(request, tuple):
        _method, url, body = request
        return client.post(url, body, content_type="application/json", secure=True)
    return client.get(request, secure=True)


def main(argv: list[str] | None = None) -> int:
    args = page_bench_parser(__doc__, "bench/results/api.json").parse_args(argv)

    import django

    django.setup()
    from django.test import Client

    from accounts.models import ApiToken, User
    from support.models import Ticket

    if not User.objects.filter(email="manager@cx.example").exists():
        print("No demo data: run `make seed-large` first.", file=sys.stderr)
        return 2
    client = Client(HTTP_HOST="localhost", HTTP_AUTHORIZATION=f"Bearer {bench_token()}")
    count = Ticket.objects.count()
    print(f"{count:,} tickets; {args.requests} requests per scenario\n")
    try:
        results, failed = measure(
            client, _scenarios(client), requests=args.requests, only=args.only, send=_send
        )
    finally:
        ApiToken.objects.filter(name="bench").delete()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"tickets": count, "results": results}, indent=2))
    print(f"\nWritten to {args.out}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
