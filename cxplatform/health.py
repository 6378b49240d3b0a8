"""Liveness of the pieces the platform needs: the database, Redis and a Celery worker."""

from __future__ import annotations

import redis
from django.conf import settings
from django.db import connection

from .celery import app as celery_app

UP, DOWN = "up", "down"


def database_state() -> str:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except Exception:
        return DOWN
    return UP


def redis_state(url: str | None = None) -> str:
    client = redis.Redis.from_url(
        url or settings.REDIS_URL, socket_connect_timeout=1, socket_timeout=1
    )
    try:
        client.ping()
    except (redis.RedisError, OSError):
        return DOWN
    finally:
        client.close()
    return UP


def celery_state(timeout: float = 1.0) -> str:
    """UP when at least one worker answers a broadcast ping within `timeout` seconds."""
    try:
        replies = celery_app.control.ping(timeout=timeout)
    except Exception:
        return DOWN
    return UP if replies else DOWN


def platform_health() -> dict[str, str]:
    states = {"database": database_state(), "redis": redis_state()}
    # Without Redis there is no broker, so no worker can answer: don't wait for one.
    states["celery"] = celery_state() if states["redis"] == UP else DOWN
    return states
