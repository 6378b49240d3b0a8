import pytest
from django.test import Client
from rest_framework.test import APIClient

from accounts.choices import Role
from tests.factories import UserFactory

ROLES = [Role.ADMIN, Role.MANAGER, Role.AGENT, Role.CSM, Role.CUSTOMER]


@pytest.fixture(autouse=True)
def _live_queue_counts(settings):
    """Tests build tickets with factories too, which do not go through the services that
    forget the cached queue counts: count afresh every time (tests/support/test_selectors.py
    covers the cache itself)."""
    settings.CX_QUEUE_COUNTS_CACHE_SECONDS = 0


@pytest.fixture(autouse=True)
def _no_webhook_subscribers_cached():
    """The event types someone subscribes to are cached in Redis, which a test's rolled-back
    transaction does not reset: an earlier test's subscription (or none cached at all)
    would change a later test's query count depending on the order. Start each test as a
    fresh database is: nobody subscribes (webhook_subscription_create forgets it)."""
    from django.core.cache import cache

    from accounts.webhooks import EVENT_TYPES_CACHE_KEY, EVENT_TYPES_CACHE_SECONDS

    cache.set(EVENT_TYPES_CACHE_KEY, frozenset(), EVENT_TYPES_CACHE_SECONDS)


@pytest.fixture
def make_user(db):
    def make(role: str = Role.AGENT, **fields):
        fields.setdefault("is_staff", role == Role.ADMIN)
        fields.setdefault("is_superuser", role == Role.ADMIN)
        return UserFactory(role=role, **fields)

    return make


@pytest.fixture
def agent(make_user):
    return make_user(Role.AGENT, full_name="Alex Agent")


@pytest.fixture
def csm(make_user):
    return make_user(Role.CSM, full_name="Casey Success")


@pytest.fixture
def manager(make_user):
    return make_user(Role.MANAGER, full_name="Morgan Manager")


@pytest.fixture
def client_for():
    """A test client signed in as `user`."""

    def make(user) -> Client:
        client = Client()
        client.force_login(user)
        return client

    return make


@pytest.fixture
def celery_worker_process():
    """A real Celery worker in its own process, on the test Redis; stopped after the test."""
    import os
    import socket
    import subprocess
    import sys
    import time
    import uuid
    from urllib.parse import quote

    from django.db import connection

    from cxplatform.celery import app

    # The worker must use the database this test sees (pytest-django's test database).
    db = connection.settings_dict
    host = quote(db["HOST"] or "", safe="") if (db["HOST"] or "").startswith("/") else db["HOST"]
    port = f":{db['PORT']}" if db["PORT"] else ""
    env = os.environ.copy()
    env["DATABASE_URL"] = (
        f"postgres://{quote(db['USER'] or '')}:{quote(db['PASSWORD'] or '')}@{host}{port}/"
        f"{db['NAME']}"
    )
    # Named, and pinged by name: Redis pub/sub ignores database numbers, so a worker of
    # another stack on the same server could otherwise answer.
    name = f"test-{uuid.uuid4().hex[:8]}@{socket.gethostname()}"
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "cxplatform",
            "worker",
            "--pool=solo",
            "--loglevel=WARNING",
            "-n",
            name,
            "--without-heartbeat",
            "--without-mingle",
            "--without-gossip",
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if app.control.ping(destination=[name], timeout=0.5):
                break
            if proc.poll() is not None:
                raise RuntimeError(f"worker exited: {proc.stderr.read().decode()[-2000:]}")
        else:
            raise RuntimeError("worker did not answer a ping within 30 s")
        yield proc
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()


# --- the REST API's clients (tests/api_helpers.py has the helpers) --------------------


@pytest.fixture
def token_client():
    """An API client authenticated with a new bearer token of `user` with `scopes` (every
    scope unless told): tests.api_helpers.bearer_client, as a fixture."""
    from tests.api_helpers import bearer_client

    return bearer_client


@pytest.fixture
def session_client():
    """An API client signed in through the session, as the browsable API is."""

    def make(user, **kwargs) -> APIClient:
        client = APIClient(**kwargs)
        client.force_login(user)
        return client

    return make
