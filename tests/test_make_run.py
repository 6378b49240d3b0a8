"""`make run` end to end: a copy of the project starts its own embedded PostgreSQL and Redis,
migrates, seeds, serves the login page; every demo login lands on its role's home; Ctrl-C
stops everything cleanly."""

from __future__ import annotations

import http.cookiejar
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
COPY = [
    "manage.py",
    "pyproject.toml",
    "cxplatform",
    "accounts",
    "support",
    "success",
    "metrics",
    "templates",
    "static",
]
LANDING = {
    "admin@cx.example": "/reports/",
    "manager@cx.example": "/reports/",
    "agent@cx.example": "/support/tickets/",
    "csm@cx.example": "/success/",
}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _sign_in(base: str, email: str, password: str) -> tuple[int, str]:
    jar = http.cookiejar.CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
    page = opener.open(f"{base}/login/", timeout=10).read().decode()
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page).group(1)
    data = urllib.parse.urlencode(
        {"csrfmiddlewaretoken": token, "username": email, "password": password}
    ).encode()
    request = urllib.request.Request(
        f"{base}/login/", data=data, headers={"Referer": f"{base}/login/"}
    )
    with opener.open(request, timeout=30) as response:
        return response.status, urllib.parse.urlsplit(response.url).path


@pytest.mark.slow
def test_make_run_serves_every_role_and_stops_cleanly_on_ctrl_c(tmp_path):
    project = tmp_path / "cx"
    project.mkdir()
    for name in COPY:
        source = ROOT / name
        if source.is_dir():
            shutil.copytree(
                source, project / name, ignore=shutil.ignore_patterns("__pycache__", "*.pyc")
            )
        else:
            shutil.copy2(source, project / name)
    port = _free_port()
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in {"DATABASE_URL", "REDIS_URL", "SECRET_KEY", "DJANGO_SETTINGS_MODULE"}
    }
    env.update(PORT=str(port), PYTHONPATH=str(project), NO_COLOR="1")
    runner = subprocess.Popen(
        [sys.executable, "-m", "cxplatform.devstack", "run"],
        cwd=project,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"
    output: list[str] = []
    try:
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline:
            line = runner.stdout.readline()
            if not line and runner.poll() is not None:
                pytest.fail("make run exited early:\n" + "".join(output[-60:]))
            output.append(line)
            if base in line and "pat.customer@" in "".join(output):
                break
        else:
            pytest.fail("make run did not come up in 180 s:\n" + "".join(output[-60:]))
        # The URL line can come before the server answers; give it a moment.
        for _ in range(50):
            try:
                login = urllib.request.urlopen(f"{base}/login/", timeout=5)
                break
            except OSError:
                time.sleep(0.2)
        assert login.status == 200
        assert "Sign in to CX Platform" in login.read().decode()
        customer = re.search(r"(pat\.customer@\S+)", "".join(output)).group(1)
        for email, landing in {**LANDING, customer: "/support/portal/"}.items():
            status, path = _sign_in(base, email, "cx-demo-password")
            assert (status, path) == (200, landing), email
    finally:
        os.killpg(runner.pid, signal.SIGINT)
        try:
            rest, _ = runner.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(runner.pid, signal.SIGKILL)
            rest, _ = runner.communicate()
        output.append(rest or "")
    assert runner.returncode == 0, "".join(output[-60:])
    # Nothing it started is left running: no server holds the port, no postmaster.pid.
    with socket.socket() as sock:
        assert sock.connect_ex(("127.0.0.1", port)) != 0
    assert not (project / ".cx" / "postgres" / "postmaster.pid").exists()
