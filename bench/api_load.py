"""Throughput of the REST API over HTTP: gunicorn with 4 workers, loaded by wrk.

    python -m bench.api_load [--duration 30] [--connections 8] [--workers 4] \
        [--out bench/results/api_load.json]

Runs against the database in DATABASE_URL (seeded with `make seed-large`). Starts
`gunicorn cxplatform.wsgi --workers 4` (as the Dockerfile does, DEBUG off) on a free local
port, then, from a second process, `wrk` (Debian package `wrk`) requests each scenario for
`--duration` seconds over `--connections` keep-alive connections with a bearer token of the
demo manager, and reports requests per second and latency percentiles as wrk measured them
(client side: HTTP parsing, the network stack and queueing included). Then it times
full export pages of 1,000 tickets one at a time over HTTP (urllib), as a data warehouse
pulls them. The rate limit is raised for the run (CX_API_RATE_LIMIT). gunicorn and wrk
share the machine's cores, so the figures are a floor for a real deployment.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

os.environ.setdefault("CX_API_RATE_LIMIT", "10000000")

from bench.api import bench_token
from bench.run import _percentile

_WRK_LATENCY = re.compile(r"^\s+(50|75|90|99)%\s+([\d.]+)(us|ms|s)\s*$", re.M)
_WRK_RATE = re.compile(r"^Requests/sec:\s+([\d.]+)", re.M)
_WRK_TOTAL = re.compile(r"^\s+(\d+) requests in", re.M)
_WRK_ERRORS = re.compile(r"Non-2xx or 3xx responses: (\d+)")
_TO_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0}


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _wait_ready(base: str, headers: dict, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            ready = urllib.request.Request(f"{base}/api/v1/tickets/", headers=headers)
            urllib.request.urlopen(ready)
            return
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.5)


def wrk(url: str, headers: dict, *, duration: int, connections: int) -> dict:
    """Run wrk against `url`; its figures as a dict."""
    command = ["wrk", f"-t{min(2, connections)}", f"-c{connections}", f"-d{duration}s"]
    command += ["--latency", "--timeout", "10s"]
    for name, value in headers.items():
        command += ["-H", f"{name}: {value}"]
    output = subprocess.run([*command, url], capture_output=True, text=True, check=True).stdout
    latency = {
        f"p{pct}_ms": round(float(value) * _TO_MS[unit], 1)
        for pct, value, unit in _WRK_LATENCY.findall(output)
    }
    errors = _WRK_ERRORS.search(output)
    return {
        "requests_per_second": float(_WRK_RATE.search(output).group(1)),
        "requests": int(_WRK_TOTAL.search(output).group(1)),
        "non_2xx": int(errors.group(1)) if errors else 0,
        **latency,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=Path("bench/results/api_load.json"))
    parser.add_argument("--duration", type=int, default=30, help="seconds per scenario")
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--workers", type=int, default=4)
    args = parser.parse_args(argv)
    if shutil.which("wrk") is None:
        print("wrk is not installed (Debian: apt-get install wrk).", file=sys.stderr)
        return 2

    import django

    django.setup()
    from django.utils import timezone

    from accounts.models import ApiToken, User

    if not User.objects.filter(email="manager@cx.example").exists():
        print("No demo data: run `make seed-large` first.", file=sys.stderr)
        return 2
    token = bench_token()
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    # The Host a client would send, and the proxy's word that the request came over HTTPS
    # (production settings redirect plain HTTP).
    headers = {
        "Authorization": f"Bearer {token}",
        "Host": "localhost",
        "X-Forwarded-Proto": "https",
    }
    server = subprocess.Popen(
        [
            *(sys.executable, "-m", "gunicorn", "cxplatform.wsgi"),
            *("--bind", f"127.0.0.1:{port}", "--workers", str(args.workers)),
            *("--log-level", "warning"),
        ],
        env={**os.environ, "DEBUG": "0"},
        start_new_session=True,
    )
    results = []
    try:
        _wait_ready(base, headers)
        tickets = "/api/v1/tickets/"
        scenarios = [
            ("ticket list, first page (50)", tickets),
            ("ticket list, filtered (open, urgent)", f"{tickets}?status=open&priority=urgent"),
            ("one ticket", tickets + "{number}/"),
        ]
        from support.models import Ticket

        number = Ticket.objects.order_by("-id").values_list("id", flat=True).first()
        print(f"gunicorn --workers {args.workers}; wrk -c{args.connections} -d{args.duration}s")
        print(f"{'scenario':<40} {'req/s':>8} {'p50 ms':>8} {'p90 ms':>8} {'p99 ms':>8}")
        for name, path in scenarios:
            figures = wrk(
                base + path.format(number=number),
                headers,
                duration=args.duration,
                connections=args.connections,
            )
            print(
                f"{name:<40} {figures['requests_per_second']:>8.0f} "
                f"{figures.get('p50_ms', 0):>8.1f} {figures.get('p90_ms', 0):>8.1f} "
                f"{figures.get('p99_ms', 0):>8.1f}"
                + (f"  ({figures['non_2xx']} non-2xx)" if figures["non_2xx"] else "")
            )
            results.append({"scenario": name, "path": path, **figures})
        samples = []
        for days in range(360, 20, -17):
            start = (timezone.now() - datetime.timedelta(days=days)).strftime("%Y-%m-%dT%H:%M:%SZ")
            request = urllib.request.Request(
                f"{base}/api/v1/export/tickets/?start_time={start}", headers=headers
            )
            started = time.perf_counter()
            with urllib.request.urlopen(request) as response:
                page = json.loads(response.read())
            samples.append((time.perf_counter() - started) * 1000)
            assert len(page["results"]) == 1000, len(page["results"])
        export = {
            "scenario": "export page of 1,000 tickets over HTTP, one client",
            "pages": len(samples),
            "p50_ms": round(statistics.median(samples), 1),
            "p95_ms": round(_percentile(samples, 95), 1),
        }
        print(
            f"{export['scenario']}: p50 {export['p50_ms']} ms, p95 {export['p95_ms']} ms "
            f"over {export['pages']} pages"
        )
        results.append(export)
    finally:
        server.send_signal(signal.SIGTERM)  # the master stops its workers gracefully
        server.wait(timeout=30)
        ApiToken.objects.filter(name="bench").delete()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"workers": args.workers, "results": results}, indent=2))
    print(f"\nWritten to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
