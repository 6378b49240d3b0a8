"""Server-time benchmarks of the support desk pages against seed_demo data.

    python -m bench.run [--seed] [--requests 60] [--only search] [--out bench/results/queue.json]

Runs against the database in DATABASE_URL (seed it with `make seed-large`, or pass --seed to
seed 10,000 accounts and 1,000,000 tickets first). Each scenario is requested through
Django's test client in this process, signed in as the demo agent: what is timed is the
server's work for one request (URL routing, middleware, queries, template rendering), with
no network in between. Prints p50/p95 per scenario and writes them as JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import statistics
import sys
import time
from pathlib import Path

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "cxplatform.settings")
# Measure what production runs: DEBUG off (compiled templates cached, no debug bookkeeping).
os.environ["DEBUG"] = "0"
os.environ.setdefault("ALLOWED_HOSTS", "localhost")


def _percentile(samples: list[float], pct: float) -> float:
    ordered = sorted(samples)
    index = min(len(ordered) - 1, max(0, round(pct / 100 * len(ordered) + 0.5) - 1))
    return ordered[index]


def htmx_headers(url: str) -> dict[str, str]:
    """Scenarios mark the requests htmx makes with `_partial` (a query parameter the views
    ignore) or `#htmx` (a fragment, never sent)."""
    return {"HTTP_HX_REQUEST": "true"} if "_partial" in url or "#htmx" in url else {}


def _scenarios(agent) -> list[tuple[str, str | list[str], float]]:
    """(name, URL or URLs to cycle through, target p95 in ms)."""
    from support.choices import Status
    from support.models import Message, Ticket
    from support.selectors import BUILTIN_VIEWS, ticket_queue

    rng = random.Random(1)
    scenarios: list[tuple[str, str | list[str], float]] = [
        (f"queue: {view.label}", f"/support/tickets/?view={key}", 100)
        for key, view in BUILTIN_VIEWS.items()
    ]
    second = ticket_queue(viewer=agent, view="open").next_cursor
    scenarios += [
        ("queue: All open, page 2 (cursor)", f"/support/tickets/?view=open&cursor={second}", 100),
        (
            "queue: filtered (urgent, enterprise, email)",
            "/support/tickets/?view=open&priority=urgent&tier=enterprise&channel=email",
            100,
        ),
        (
            "queue: filtered by tag + sorted by priority",
            "/support/tickets/?view=open&tag=billing&sort=-priority",
            100,
        ),
        ("queue: All open sorted by SLA due time", "/support/tickets/?view=open&sort=due", 100),
        ("queue: htmx refresh of rows (All open)", "/support/tickets/?view=open&_partial=1", 100),
    ]
    # Order, invoice and error references that customers quote in their first message.
    bodies = (
        Message.objects.filter(author_contact__isnull=False, body__contains="Reference ")
        .order_by("-id")
        .values_list("body", flat=True)[:2000:40]
    )
    references = [re.search(r"Reference (\S+)", body) for body in bodies]
    specific = [f"/support/tickets/?q={match.group(1)}" for match in references if match]
    scenarios += [
        ("search: a reference number", specific, 300),
        ('search: two words ("password reset")', "/support/tickets/?q=password+reset", 300),
        ('search: common word ("export")', "/support/tickets/?q=export", 300),
    ]
    top = Ticket.objects.order_by("-id").values_list("id", flat=True).first() or 0
    ids = [top - rng.randint(0, 900_000) for _ in range(60)]
    unsolved = list(
        Ticket.objects.filter(status=Status.OPEN)
        .order_by("-updated_at")
        .values_list("id", flat=True)[:60]
    )
    scenarios += [
        ("ticket page: random ticket", [f"/support/tickets/{i}/" for i in ids], 100),
        ("ticket page: open ticket", [f"/support/tickets/{i}/" for i in unsolved], 100),
    ]
    return scenarios


def _get(client, url: str):
    # secure: production settings redirect plain HTTP to HTTPS.
    return client.get(url, secure=True, **htmx_headers(url))


def measure(
    client, scenarios, *, requests: int, only: list[str] | None = None, send=None
) -> tuple[list[dict], bool]:
    """Time each (name, URL or URLs, target p95 ms) scenario through `client`: a few warm-up
    requests, then `requests` timed ones. Prints a table; returns its rows and whether any
    request failed (answered other than 2xx). `send(client, item)` makes one request of an
    item of a scenario's list (default: a GET of the URL, marked as htmx's where it says
    so)."""
    from django.db import connection, reset_queries
    from django.test.utils import CaptureQueriesContext

    send = send or _get
    print(f"{'scenario':<48} {'p50 ms':>8} {'p95 ms':>8} {'target':>8} {'queries':>8}")
    results = []
    failed = False
    only = [part.lower() for part in only or []]
    for name, urls, target in scenarios:
        cycle = urls if isinstance(urls, list) else [urls]
        if not cycle or (only and not any(part in name.lower() for part in only)):
            continue
        for url in cycle[:5]:  # warm-up: caches, prepared plans, connection
            send(client, url)
        samples = []
        queries = 0
        for n in range(requests):
            url = cycle[n % len(cycle)]
            reset_queries()
            with CaptureQueriesContext(connection) as captured:
                started = time.perf_counter()
                response = send(client, url)
                samples.append((time.perf_counter() - started) * 1000)
            queries = max(queries, len(captured))
            if not 200 <= response.status_code < 300:
                print(f"  {url} answered {response.status_code}", file=sys.stderr)
                failed = True
        p50, p95 = statistics.median(samples), _percentile(samples, 95)
        ok = "" if p95 <= target else "  (over target)"
        print(f"{name:<48} {p50:>8.1f} {p95:>8.1f} {target:>8.0f} {queries:>8}{ok}")
        results.append(
            {
                "scenario": name,
                "p50_ms": round(p50, 1),
                "p95_ms": round(p95, 1),
                "target_p95_ms": target,
                "max_queries": queries,
                "requests": len(samples),
            }
        )
    return results, failed


def page_bench_parser(doc: str, out: str) -> argparse.ArgumentParser:
    """The options every page benchmark takes: --requests, --only, --out."""
    parser = argparse.ArgumentParser(description=doc.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=60)
    parser.add_argument(
        "--only",
        action="append",
        metavar="SUBSTRING",
        help="run only the scenarios whose name contains this (case-insensitive; repeatable)",
    )
    parser.add_argument("--out", type=Path, default=Path(out))
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = page_bench_parser(__doc__, "bench/results/support.json")
    parser.add_argument(
        "--seed",
        action="store_true",
        help="first load 10,000 accounts and 1,000,000 tickets (--reset)",
    )
    args = parser.parse_args(argv)

    import django

    django.setup()
    from django.core.management import call_command
    from django.test import Client

    from accounts.models import User
    from support.models import Ticket

    if args.seed:
        call_command("seed_demo", accounts=10_000, tickets=1_000_000, reset=True)
    agent = User.objects.filter(email="agent@cx.example").first()
    if agent is None:
        print("No demo data: run `make seed-large` or pass --seed.", file=sys.stderr)
        return 2
    client = Client(HTTP_HOST="localhost")
    client.force_login(agent)
    print(f"{Ticket.objects.count():,} tickets; {args.requests} requests per scenario\n")
    results, failed = measure(client, _scenarios(agent), requests=args.requests, only=args.only)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(
        json.dumps({"tickets": Ticket.objects.count(), "results": results}, indent=2)
    )
    print(f"\nWritten to {args.out}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
