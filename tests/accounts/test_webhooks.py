"""Signed webhooks (issue 8): signing, delivery, retries, disabling, the SSRF guard, events
emitted by the apps, and the API's permissions."""

import datetime
import hashlib
import hmac
import json
import ssl
import subprocess
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.core import mail
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.utils import timezone

from accounts import webhooks
from accounts.choices import Role
from accounts.models import (
    ApiScope,
    WebhookDelivery,
    WebhookDeliveryStatus,
    WebhookSubscription,
)
from accounts.webhooks import (
    WebhookTargetRefused,
    webhook_deliver,
    webhook_event_publish,
    webhook_retries_queue,
    webhook_subscription_create,
    webhook_target_check,
)
from support import services as support_services
from tests.factories import ContactFactory, TicketFactory

pytestmark = pytest.mark.django_db


class _Receiver(BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        self.server.received.append(
            {"path": self.path, "headers": dict(self.headers), "body": body}
        )
        status, headers = self.server.answers.pop(0) if self.server.answers else (200, {})
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass


def _serving(server: ThreadingHTTPServer, url: str):
    """Run `server` in a thread for the test, recording what it receives."""
    server.received, server.answers, server.url = [], [], url
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


@pytest.fixture
def receiver():
    """A real HTTP server on 127.0.0.1 recording the POSTs; `answers` lists (status, headers)
    to give, in order (then 200)."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Receiver)
    yield from _serving(server, f"http://127.0.0.1:{server.server_address[1]}/hook")


@pytest.fixture
def allow_private(settings):
    settings.CX_WEBHOOK_ALLOW_PRIVATE = True


@pytest.fixture(autouse=True)
def enqueued(monkeypatch):
    cache.delete(webhooks.EVENT_TYPES_CACHE_KEY)
    enqueued: list[int] = []
    monkeypatch.setattr("accounts.tasks.webhook_deliver_task.delay", enqueued.append)
    return enqueued


@pytest.fixture
def admin(make_user):
    return make_user(Role.ADMIN, full_name="Ada Admin")


def _delivery(subscription, *, created_at=None, event_type="ticket.created") -> WebhookDelivery:
    now = created_at or timezone.now()
    return WebhookDelivery.objects.create(
        subscription=subscription,
        event_id="00000000-0000-4000-8000-000000000001",
        event_type=event_type,
        payload={"id": "x", "type": event_type, "created_at": now.isoformat(), "data": {"a": 1}},
        next_attempt_at=now,
        created_at=now,
    )


# --- signing and delivery ----------------------------------------------------------------


def test_delivery_posts_json_signed_with_the_subscription_secret(
    allow_private, receiver, admin, django_capture_on_commit_callbacks, enqueued
):
    _subscription, secret = webhook_subscription_create(
        owner=admin, url=receiver.url, events=["ticket.created"]
    )
    with django_capture_on_commit_callbacks(execute=True):
        assert webhook_event_publish(event_type="ticket.created", resource={"number": 7}) == 1
    [delivery_id] = enqueued
    assert webhook_deliver(delivery_id=delivery_id) == WebhookDeliveryStatus.DELIVERED

    [request] = receiver.received
    assert request["headers"]["Content-Type"] == "application/json"
    body = json.loads(request["body"])
    assert set(body) == {"id", "type", "created_at", "data"}
    assert body["type"] == "ticket.created"
    assert body["data"] == {"number": 7}
    # Independent check of the signature: t=<unix>,v1=hex(hmac_sha256(secret, "t.body")).
    parts = dict(p.split("=", 1) for p in request["headers"]["X-CX-Signature"].split(","))
    expected = hmac.new(
        secret.encode(), parts["t"].encode() + b"." + request["body"], hashlib.sha256
    ).hexdigest()
    assert hmac.compare_digest(parts["v1"], expected)
    assert abs(int(parts["t"]) - timezone.now().timestamp()) < 60

    delivery = WebhookDelivery.objects.get(pk=delivery_id)
    assert delivery.status == WebhookDeliveryStatus.DELIVERED
    assert delivery.response_code == 200
    assert delivery.latency_ms is not None
    assert delivery.attempts == 1
    assert delivery.delivered_at is not None


@pytest.fixture
def tls_receiver(tmp_path):
    """A real HTTPS server on 127.0.0.1 with a self-signed certificate for "localhost"
    (made by the openssl command), recording the POSTs like `receiver`; `cert` is the file
    a client must trust."""
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        [
            *("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1"),
            *("-subj", "/CN=localhost", "-addext", "subjectAltName=DNS:localhost"),
            *("-keyout", str(key), "-out", str(cert)),
        ],
        check=True,
        capture_output=True,
    )
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Receiver)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    server.cert = cert
    yield from _serving(server, f"https://localhost:{server.server_address[1]}/hook")


def test_https_delivery_to_a_real_tls_server(allow_private, tls_receiver, admin, monkeypatch):
    """Over TLS with certificate and host-name checks, to the address the guard pinned: a
    certificate the system trusts is delivered to; an untrusted one is a failed attempt
    (retried), nothing sent."""
    subscription, secret = webhook_subscription_create(
        owner=admin, url=tls_receiver.url, events=["ticket.created"]
    )
    untrusted = _delivery(subscription)
    assert webhook_deliver(delivery_id=untrusted.pk) == WebhookDeliveryStatus.FAILED
    untrusted.refresh_from_db()
    assert "certificate" in untrusted.last_error.lower()
    assert tls_receiver.received == []

    monkeypatch.setenv("SSL_CERT_FILE", str(tls_receiver.cert))  # as if a CA had signed it
    delivery = _delivery(subscription)
    assert webhook_deliver(delivery_id=delivery.pk) == WebhookDeliveryStatus.DELIVERED
    [request] = tls_receiver.received
    parts = dict(p.split("=", 1) for p in request["headers"]["X-CX-Signature"].split(","))
    expected = hmac.new(
        secret.encode(), parts["t"].encode() + b"." + request["body"], hashlib.sha256
    ).hexdigest()
    assert hmac.compare_digest(parts["v1"], expected)


def test_delivering_twice_posts_once(allow_private, receiver, admin):
    subscription, _ = webhook_subscription_create(
        owner=admin, url=receiver.url, events=["ticket.created"]
    )
    delivery = _delivery(subscription)
    assert webhook_deliver(delivery_id=delivery.pk) == WebhookDeliveryStatus.DELIVERED
    assert webhook_deliver(delivery_id=delivery.pk) is None
    assert len(receiver.received) == 1


def test_failure_schedules_a_retry_with_exponential_backoff(allow_private, receiver, admin):
    receiver.answers = [(500, {}), (503, {})]
    subscription, _ = webhook_subscription_create(
        owner=admin, url=receiver.url, events=["ticket.created"]
    )
    delivery = _delivery(subscription)
    now = timezone.now()
    assert webhook_deliver(delivery_id=delivery.pk, now=now) == WebhookDeliveryStatus.FAILED
    delivery.refresh_from_db()
    assert delivery.response_code == 500
    assert delivery.next_attempt_at == now + datetime.timedelta(seconds=30)
    # Not due yet: nothing happens.
    assert webhook_deliver(delivery_id=delivery.pk, now=now) is None
    assert webhook_retries_queue(now=now) == []

    later = now + datetime.timedelta(seconds=31)
    assert webhook_retries_queue(now=later) == [delivery.pk]
    assert webhook_deliver(delivery_id=delivery.pk, now=later) == WebhookDeliveryStatus.FAILED
    delivery.refresh_from_db()
    assert delivery.attempts == 2
    assert delivery.next_attempt_at == later + datetime.timedelta(seconds=60)

    evenlater = later + datetime.timedelta(seconds=61)
    assert webhook_deliver(delivery_id=delivery.pk, now=evenlater) == "delivered"
    assert len(receiver.received) == 3
    subscription.refresh_from_db()
    assert subscription.consecutive_failures == 0


def test_retry_delay_doubles_and_is_capped():
    assert [webhooks.retry_delay(n).total_seconds() for n in (1, 2, 3, 4)] == [30, 60, 120, 240]
    assert webhooks.retry_delay(30).total_seconds() == 3600


def test_gives_up_24_hours_after_the_event(allow_private, receiver, admin):
    receiver.answers = [(500, {})]
    subscription, _ = webhook_subscription_create(
        owner=admin, url=receiver.url, events=["ticket.created"]
    )
    delivery = _delivery(
        subscription,
        created_at=timezone.now() - datetime.timedelta(hours=23, minutes=59, seconds=50),
    )
    assert webhook_deliver(delivery_id=delivery.pk) == WebhookDeliveryStatus.GAVE_UP
    delivery.refresh_from_db()
    assert delivery.next_attempt_at is None
    assert webhook_retries_queue(now=timezone.now() + datetime.timedelta(days=2)) == []


def test_fifty_failures_in_a_row_disable_the_subscription_and_email_the_owner_once(
    allow_private, receiver, admin
):
    receiver.answers = [(500, {})] * 3
    subscription, _ = webhook_subscription_create(
        owner=admin, url=receiver.url, events=["ticket.created"]
    )
    WebhookSubscription.objects.filter(pk=subscription.pk).update(consecutive_failures=48)
    first, second, third = (_delivery(subscription) for _ in range(3))
    webhook_deliver(delivery_id=first.pk)
    subscription.refresh_from_db()
    assert subscription.active
    assert subscription.consecutive_failures == 49
    assert mail.outbox == []

    webhook_deliver(delivery_id=second.pk)
    subscription.refresh_from_db()
    assert not subscription.active
    assert subscription.disabled_at is not None
    assert len(mail.outbox) == 1
    assert mail.outbox[0].to == [admin.email]
    assert receiver.url in mail.outbox[0].body

    # Disabled: the next delivery is not sent, and no second email.
    assert webhook_deliver(delivery_id=third.pk) is None
    third.refresh_from_db()
    assert third.status == WebhookDeliveryStatus.GAVE_UP
    assert len(receiver.received) == 2
    assert len(mail.outbox) == 1
    # And it no longer gets events.
    assert webhook_event_publish(event_type="ticket.created", resource={}) == 0


# --- the SSRF guard ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1/hook",
        "http://10.1.2.3/hook",
        "http://192.168.0.10/hook",
        "http://169.254.169.254/latest/meta-data/",
        "http://[::1]/hook",
        "http://[fd00:ec2::254]/hook",
        "http://localhost:8000/hook",
        "http://0.0.0.0/hook",
        "http://224.0.0.1/hook",
        "ftp://example.com/hook",
    ],
)
def test_guard_refuses_non_public_targets(url):
    with pytest.raises(WebhookTargetRefused):
        webhook_target_check(url)


def test_guard_allows_private_targets_when_the_setting_is_on(allow_private):
    assert webhook_target_check("http://127.0.0.1:9/hook")[2] == "127.0.0.1"


def test_subscribing_a_private_target_is_refused(admin):
    with pytest.raises(ValidationError, match="loopback"):
        webhook_subscription_create(
            owner=admin, url="http://localhost/x", events=["ticket.created"]
        )


def test_guard_runs_at_delivery_time(allow_private, settings, receiver, admin):
    subscription, _ = webhook_subscription_create(
        owner=admin, url=receiver.url, events=["ticket.created"]
    )
    delivery = _delivery(subscription)
    settings.CX_WEBHOOK_ALLOW_PRIVATE = False
    assert webhook_deliver(delivery_id=delivery.pk) == WebhookDeliveryStatus.FAILED
    delivery.refresh_from_db()
    assert "127.0.0.1" in delivery.last_error
    assert receiver.received == []


def test_a_redirect_to_a_private_address_is_not_followed(monkeypatch, receiver, admin):
    # The receiver (on loopback) stands in for a public host; its redirect target is checked.
    real = webhooks._ip_refused
    monkeypatch.setattr(webhooks, "_ip_refused", lambda ip: str(ip) != "127.0.0.1" and real(ip))
    receiver.answers = [(307, {"Location": "http://10.0.0.5/internal"})]
    subscription, _ = webhook_subscription_create(
        owner=admin, url=receiver.url, events=["ticket.created"]
    )
    delivery = _delivery(subscription)
    assert webhook_deliver(delivery_id=delivery.pk) == WebhookDeliveryStatus.FAILED
    delivery.refresh_from_db()
    assert "10.0.0.5" in delivery.last_error
    assert len(receiver.received) == 1


def test_a_redirect_to_an_allowed_target_is_followed(allow_private, receiver, admin):
    receiver.answers = [(308, {"Location": "/moved"})]
    subscription, _ = webhook_subscription_create(
        owner=admin, url=receiver.url, events=["ticket.created"]
    )
    assert webhook_deliver(delivery_id=_delivery(subscription).pk) == "delivered"
    assert [r["path"] for r in receiver.received] == ["/hook", "/moved"]


# --- events from the apps ----------------------------------------------------------------


def test_no_subscription_costs_no_query_once_cached(django_assert_num_queries):
    webhooks.webhook_event_types_subscribed()
    with django_assert_num_queries(0):
        assert webhook_event_publish(event_type="ticket.created", resource=lambda: 1 / 0) == 0


def test_ticket_create_and_public_replies_emit_events_but_internal_notes_do_not(
    allow_private, admin, agent, django_capture_on_commit_callbacks, enqueued
):
    webhook_subscription_create(
        owner=admin,
        url="http://127.0.0.1:9/hook",
        events=["ticket.created", "message.created", "ticket.solved", "ticket.updated"],
    )
    contact = ContactFactory()
    with django_capture_on_commit_callbacks(execute=True):
        ticket = support_services.ticket_create(requester=contact, subject="Help", body="Broken")
    created = WebhookDelivery.objects.get(event_type="ticket.created")
    assert created.payload["data"]["number"] == ticket.pk
    assert created.payload["data"]["requester"] == contact.email
    assert enqueued == [created.pk]

    support_services.ticket_reply(
        ticket_id=ticket.pk, acting_user=agent, body="Secret", public=False
    )
    assert not WebhookDelivery.objects.filter(event_type="message.created").exists()

    message = support_services.ticket_reply(ticket_id=ticket.pk, acting_user=agent, body="Hello")
    [event] = WebhookDelivery.objects.filter(event_type="message.created")
    assert event.payload["data"]["id"] == message.pk
    assert event.payload["data"]["body"] == "Hello"

    support_services.ticket_customer_reply(ticket_id=ticket.pk, contact=contact, body="Thanks")
    assert WebhookDelivery.objects.filter(event_type="message.created").count() == 2

    ticket.refresh_from_db()
    support_services.ticket_update(
        ticket_id=ticket.pk, acting_user=agent, expected_version=None, status="solved"
    )
    assert WebhookDelivery.objects.filter(event_type="ticket.updated").count() == 1
    solved = WebhookDelivery.objects.get(event_type="ticket.solved")
    assert solved.payload["data"]["status"] == "solved"


def test_a_rolled_back_write_leaves_no_delivery(allow_private, admin):
    webhook_subscription_create(
        owner=admin, url="http://127.0.0.1:9/hook", events=["ticket.created"]
    )
    with pytest.raises(ValidationError):
        support_services.ticket_create(requester=ContactFactory(), subject="", body="")
    assert not WebhookDelivery.objects.exists()


def test_ticket_update_without_subscribers_adds_no_query(agent, django_assert_max_num_queries):
    ticket = TicketFactory()
    webhooks.webhook_event_types_subscribed()
    with django_assert_max_num_queries(30) as ctx:
        support_services.ticket_update(
            ticket_id=ticket.pk, acting_user=agent, expected_version=None, priority="high"
        )
    assert not any("webhook" in q["sql"] for q in ctx.captured_queries)


# --- the API -----------------------------------------------------------------------------

URL = "/api/v1/webhooks/"


def test_creating_returns_the_secret_once(allow_private, token_client, manager):
    client = token_client(manager, scopes=[ApiScope.WEBHOOKS])
    response = client.post(
        URL, {"url": "http://127.0.0.1:9/hook", "events": ["ticket.created"]}, format="json"
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert len(body["secret"]) == 64
    assert body["owner"] == manager.email
    assert WebhookSubscription.objects.get(pk=body["id"]).secret == body["secret"]
    again = client.get(f"{URL}{body['id']}/")
    assert again.status_code == 200
    assert "secret" not in again.json()


def test_api_refuses_a_private_target_and_unknown_events(token_client, manager):
    from tests.api_helpers import error_of

    client = token_client(manager, scopes=[ApiScope.WEBHOOKS])
    response = client.post(
        URL, {"url": "http://169.254.169.254/", "events": ["ticket.created"]}, format="json"
    )
    assert response.status_code == 400
    assert "url" in error_of(response)["fields"]
    response = client.post(URL, {"url": "https://example.com/", "events": ["nope"]}, format="json")
    assert response.status_code == 400
    assert "events" in error_of(response)["fields"]


def test_api_needs_the_webhooks_scope(token_client, manager):
    client = token_client(manager, scopes=[ApiScope.TICKETS_READ, ApiScope.ADMIN])
    assert client.get(URL).status_code == 403


def test_only_admins_and_managers_may_subscribe(token_client, agent, csm):
    """A subscription receives every account's events, more than agents and CSMs may read:
    the API refuses them and so does the service (a direct call)."""
    for user in (agent, csm):
        client = token_client(user, scopes=[ApiScope.WEBHOOKS])
        response = client.post(
            URL, {"url": "https://example.com/", "events": ["survey.response"]}, format="json"
        )
        assert response.status_code == 403
        assert "admins and managers" in response.json()["error"]["message"]
        with pytest.raises(ValidationError):
            webhook_subscription_create(
                owner=user, url="https://example.com/", events=["survey.response"]
            )
    assert not WebhookSubscription.objects.exists()


def test_an_owner_demoted_since_receives_nothing(allow_private, manager):
    webhook_subscription_create(owner=manager, url="http://127.0.0.1:9/", events=["ticket.created"])
    manager.role = Role.AGENT
    manager.save(update_fields=["role"])
    webhooks.webhook_event_types_forget()
    assert webhooks.webhook_event_publish(event_type="ticket.created", resource={"n": 1}) == 0
    assert not WebhookDelivery.objects.exists()


def test_anonymous_and_customers_are_refused(client, token_client, make_user):
    assert client.get(URL).status_code == 401
    customer = make_user(Role.CUSTOMER)
    assert token_client(customer, scopes=[ApiScope.WEBHOOKS]).get(URL).status_code == 403


def test_owners_see_only_their_own_and_admins_see_all(
    allow_private, token_client, manager, make_user, admin
):
    mine, _ = webhook_subscription_create(
        owner=manager, url="http://127.0.0.1:9/a", events=["ticket.created"]
    )
    theirs, _ = webhook_subscription_create(
        owner=make_user(Role.MANAGER), url="http://127.0.0.1:9/b", events=["ticket.created"]
    )
    _delivery(theirs)
    as_owner = token_client(manager, scopes=[ApiScope.WEBHOOKS])
    assert [s["id"] for s in as_owner.get(URL).json()["results"]] == [mine.pk]
    assert as_owner.get(f"{URL}{theirs.pk}/").status_code == 404
    assert as_owner.get(f"{URL}{theirs.pk}/deliveries/").status_code == 404
    assert as_owner.patch(f"{URL}{theirs.pk}/", {"active": False}, format="json").status_code == 404
    assert as_owner.delete(f"{URL}{theirs.pk}/").status_code == 404
    assert as_owner.patch(f"{URL}{mine.pk}/", {"active": False}, format="json").status_code == 200

    as_admin = token_client(admin, scopes=[ApiScope.WEBHOOKS])
    assert {s["id"] for s in as_admin.get(URL).json()["results"]} == {mine.pk, theirs.pk}
    log = as_admin.get(f"{URL}{theirs.pk}/deliveries/")
    assert log.status_code == 200
    [row] = log.json()["results"]
    assert row["status"] == "pending"
    assert {"latency_ms", "response_code", "attempts"} <= set(row)
    assert as_admin.delete(f"{URL}{theirs.pk}/").status_code == 204
    assert not WebhookSubscription.objects.filter(pk=theirs.pk).exists()


def test_subscription_changes_forget_the_cached_event_types(allow_private, admin):
    assert "ticket.solved" not in webhooks.webhook_event_types_subscribed()
    webhook_subscription_create(owner=admin, url="http://127.0.0.1:9/", events=["ticket.solved"])
    assert "ticket.solved" in webhooks.webhook_event_types_subscribed()


def test_health_band_changes_emit_one_event_per_changed_account(allow_private, admin):
    from success.health import Band, HealthResult
    from success.services import health_snapshot_store, health_snapshots_store_many
    from tests.factories import AccountFactory

    webhook_subscription_create(
        owner=admin, url="http://127.0.0.1:9/", events=["health.band_changed"]
    )
    moved = AccountFactory(health_band="green")
    stays = AccountFactory(health_band="red")
    day = timezone.localdate()
    health_snapshots_store_many(
        day=day,
        results={
            moved.pk: HealthResult(score=20.0, band=Band.RED, components=()),
            stays.pk: HealthResult(score=21.0, band=Band.RED, components=()),
        },
    )
    [event] = WebhookDelivery.objects.filter(event_type="health.band_changed")
    assert event.payload["data"] == {
        "account": moved.pk,
        "old_band": "green",
        "band": "red",
        "day": day.isoformat(),
    }
    # Again with the same bands: nothing moves, nothing is sent.
    health_snapshot_store(
        account=stays, day=day, result=HealthResult(score=22.0, band=Band.RED, components=())
    )
    assert WebhookDelivery.objects.filter(event_type="health.band_changed").count() == 1
    health_snapshot_store(
        account=stays, day=day, result=HealthResult(score=90.0, band=Band.GREEN, components=())
    )
    assert WebhookDelivery.objects.filter(event_type="health.band_changed").count() == 2


def test_survey_answers_emit_survey_response(allow_private, admin):
    from success.services import nps_response_import
    from support.services.surveys import csat_response_record

    webhook_subscription_create(owner=admin, url="http://127.0.0.1:9/", events=["survey.response"])
    contact = ContactFactory()
    nps_response_import(contact=contact, score=9, reason="Great")
    ticket = TicketFactory(requester=contact)
    csat_response_record(ticket_id=ticket.pk, contact_id=contact.pk, rating=5, ces=None, comment="")
    surveys = [
        d.payload["data"]["survey"]
        for d in WebhookDelivery.objects.filter(event_type="survey.response").order_by("pk")
    ]
    assert surveys == ["nps", "csat"]


def test_escalation_flags_emit_raised_and_resolved(allow_private, admin, csm):
    import importlib

    from django.apps import apps

    from accounts.choices import LifecycleStage
    from metrics.models import EscalationFlag, EscalationRule, RuleCode
    from metrics.services.escalations import escalation_flag_resolve, escalations_evaluate
    from tests.factories import AccountFactory

    importlib.import_module("metrics.migrations.0004_escalation_rules_default").create_rules(
        apps, None
    )
    webhook_subscription_create(
        owner=admin,
        url="http://127.0.0.1:9/",
        events=["escalation.raised", "escalation.resolved"],
    )
    now = timezone.now()
    onboarding = AccountFactory(csm=csm, lifecycle_stage=LifecycleStage.ONBOARDING)
    at_risk = AccountFactory(csm=csm, lifecycle_stage=LifecycleStage.ADOPTION, health_band="red")
    escalations_evaluate(account_ids=[onboarding.pk, at_risk.pk], now=now)
    raised = WebhookDelivery.objects.filter(event_type="escalation.raised")
    assert {d.payload["data"]["account"] for d in raised} == {onboarding.pk, at_risk.pk}
    flag = EscalationFlag.objects.get(account=at_risk, rule__code=RuleCode.AT_RISK_ACCOUNT)
    escalation_flag_resolve(flag_id=flag.pk, acting_user=csm, note="Plan agreed")
    [resolved] = WebhookDelivery.objects.filter(event_type="escalation.resolved")
    assert resolved.payload["data"]["id"] == flag.pk
    # Automatic resolution (the rule stopped firing, after the quiet period) is emitted too.
    EscalationRule.objects.filter(code=RuleCode.ONBOARDING).update(enabled=False)
    escalations_evaluate(account_ids=[onboarding.pk], now=now + datetime.timedelta(days=1))
    escalations_evaluate(account_ids=[onboarding.pk], now=now + datetime.timedelta(days=60))
    assert WebhookDelivery.objects.filter(event_type="escalation.resolved").count() == 2


def test_the_beat_task_enqueues_the_due_retries(
    allow_private, admin, enqueued, django_capture_on_commit_callbacks
):
    from accounts.tasks import webhook_retries_due_task
    from cxplatform.schedule import BEAT_SCHEDULE

    subscription, _ = webhook_subscription_create(
        owner=admin, url="http://127.0.0.1:9/", events=["ticket.created"]
    )
    due = _delivery(subscription)
    later = _delivery(subscription)
    WebhookDelivery.objects.filter(pk=later.pk).update(
        status="failed", next_attempt_at=timezone.now() + datetime.timedelta(minutes=5)
    )
    with django_capture_on_commit_callbacks(execute=True):
        assert webhook_retries_due_task() == 1
    assert enqueued == [due.pk]
    entry = BEAT_SCHEDULE["accounts-webhook-retries-due"]
    assert entry["task"] == "accounts.tasks.webhook_retries_due_task"


def test_a_second_run_does_not_queue_what_the_first_queued_until_the_lease_ends(
    allow_private, admin, enqueued, django_capture_on_commit_callbacks
):
    subscription, _ = webhook_subscription_create(
        owner=admin, url="http://127.0.0.1:9/", events=["ticket.created"]
    )
    due = _delivery(subscription)
    now = timezone.now()
    with django_capture_on_commit_callbacks(execute=True):
        assert webhook_retries_queue(now=now) == [due.pk]
        assert webhook_retries_queue(now=now + datetime.timedelta(seconds=60)) == []
    assert enqueued == [due.pk]
    # No worker claimed it (a lost message): once the lease is over it is queued again.
    assert webhook_retries_queue(now=now + webhooks.QUEUE_LEASE) == [due.pk]


def test_an_attempt_frees_its_retry_to_be_queued_when_due(allow_private, receiver, admin):
    receiver.answers = [(500, {})]
    subscription, _ = webhook_subscription_create(
        owner=admin, url=receiver.url, events=["ticket.created"]
    )
    delivery = _delivery(subscription)
    now = timezone.now()
    assert webhook_retries_queue(now=now) == [delivery.pk]
    assert webhook_deliver(delivery_id=delivery.pk, now=now) == WebhookDeliveryStatus.FAILED
    delivery.refresh_from_db()
    assert delivery.queued_at is None
    assert webhook_retries_queue(now=delivery.next_attempt_at) == [delivery.pk]


def test_published_deliveries_are_left_to_their_own_queued_task(
    allow_private, admin, enqueued, django_capture_on_commit_callbacks
):
    webhook_subscription_create(owner=admin, url="http://127.0.0.1:9/", events=["ticket.created"])
    with django_capture_on_commit_callbacks(execute=True):
        webhook_event_publish(event_type="ticket.created", resource={"number": 7})
        assert webhook_retries_queue() == []
    [delivery] = WebhookDelivery.objects.all()
    assert enqueued == [delivery.pk]


@pytest.mark.django_db(transaction=True)  # threads: their own connections, committed data
def test_two_concurrent_runs_queue_each_due_delivery_once(allow_private, admin, enqueued):
    from accounts.tasks import webhook_retries_due_task
    from tests.support.test_concurrency import run_together

    subscription, _ = webhook_subscription_create(
        owner=admin, url="http://127.0.0.1:9/", events=["ticket.created"]
    )
    due = sorted(_delivery(subscription).pk for _ in range(40))
    for _ in range(3):  # a few rounds, so the runs really overlap
        WebhookDelivery.objects.update(queued_at=None)
        enqueued.clear()
        outcomes = run_together(webhook_retries_due_task, webhook_retries_due_task)
        assert sum(outcomes) == len(due), outcomes
        assert sorted(enqueued) == due


def test_the_list_takes_a_fixed_number_of_queries(
    allow_private, token_client, admin, make_user, django_assert_max_num_queries
):
    for _ in range(15):
        owner = make_user(Role.MANAGER)
        webhook_subscription_create(
            owner=owner, url="http://127.0.0.1:9/", events=["ticket.created"]
        )
    client = token_client(admin, scopes=[ApiScope.WEBHOOKS])
    with django_assert_max_num_queries(8):
        response = client.get(URL)
    assert response.status_code == 200
    assert len(response.json()["results"]) == 15


def test_admin_pages_show_the_delivery_log_and_refuse_private_targets(
    allow_private, settings, client_for, admin, make_user
):
    subscription, _ = webhook_subscription_create(
        owner=admin, url="http://127.0.0.1:9/", events=["ticket.created"]
    )
    _delivery(subscription)
    client = client_for(admin)
    page = client.get("/admin/accounts/webhookdelivery/")
    assert page.status_code == 200
    assert b"ticket.created" in page.content
    assert (
        client.get(f"/admin/accounts/webhooksubscription/{subscription.pk}/change/").status_code
        == 200
    )
    settings.CX_WEBHOOK_ALLOW_PRIVATE = False
    response = client.post(
        "/admin/accounts/webhooksubscription/add/",
        {"owner": admin.pk, "url": "http://10.0.0.1/", "events": "ticket.created", "active": "on"},
    )
    assert response.status_code == 200
    assert b"private" in response.content
    assert WebhookSubscription.objects.count() == 1
    settings.CX_WEBHOOK_ALLOW_PRIVATE = True
    response = client.post(
        "/admin/accounts/webhooksubscription/add/",
        {
            "owner": admin.pk,
            "url": "http://127.0.0.1:9/x",
            "events": "ticket.solved",
            "active": "on",
        },
    )
    assert response.status_code == 302
    added = WebhookSubscription.objects.get(url="http://127.0.0.1:9/x")
    assert len(added.secret) == 64
    assert "ticket.solved" in webhooks.webhook_event_types_subscribed()
    agent = make_user(Role.AGENT)
    response = client.post(
        "/admin/accounts/webhooksubscription/add/",
        {"owner": agent.pk, "url": "http://127.0.0.1:9/y", "events": "ticket.solved"},
    )
    assert response.status_code == 200
    assert b"Only admins and managers may subscribe" in response.content
    assert not WebhookSubscription.objects.filter(owner=agent).exists()


def test_publishing_many_events_takes_two_queries(allow_private, admin, django_assert_num_queries):
    for _ in range(2):
        webhook_subscription_create(
            owner=admin, url="http://127.0.0.1:9/", events=["health.band_changed"]
        )
    webhooks.webhook_event_types_subscribed()
    with django_assert_num_queries(2):
        made = webhooks.webhook_events_publish(
            event_type="health.band_changed", resources=[{"account": n} for n in range(20)]
        )
    assert made == 40
    assert WebhookDelivery.objects.values("event_id").distinct().count() == 20
