from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.db.models import F
from django.utils import timezone

from accounts.choices import Role
from accounts.models import Account, Contact, User
from support.choices import Status
from support.models import Message, Ticket, TicketEvent

pytestmark = pytest.mark.django_db


def _seed(**options) -> str:
    out = StringIO()
    call_command("seed_demo", stdout=out, **options)
    return out.getvalue()


def _fingerprint() -> list[tuple]:
    return list(
        Ticket.objects.order_by("id").values_list(
            "subject", "status", "priority", "account__name", "requester__email"
        )[:200]
    )


def test_seed_demo_creates_accounts_contacts_staff_and_tickets_with_threads():
    output = _seed(accounts=12, tickets=400, seed=7)
    assert Account.objects.count() == 12
    assert Contact.objects.filter(account__isnull=False).count() >= 12
    assert Ticket.objects.count() == 400
    assert Message.objects.count() >= 400
    assert TicketEvent.objects.filter(kind="created").count() == 400
    for role in Role:
        assert User.objects.filter(role=role).exists(), role
    assert "Demo logins:" in output
    assert "agent@cx.example" in output


def test_seed_demo_is_deterministic_for_a_seed():
    _seed(accounts=5, tickets=100, seed=3)
    first = _fingerprint()
    _seed(accounts=5, tickets=100, seed=3, reset=True)
    assert _fingerprint() == first


def test_seed_demo_loads_only_once():
    _seed(accounts=3, tickets=10)
    output = _seed(accounts=3, tickets=10)
    assert "nothing to do" in output
    assert Ticket.objects.count() == 10


def test_seeded_tickets_obey_the_status_rules():
    _seed(accounts=8, tickets=600, seed=11)
    assert not Ticket.objects.filter(status=Status.CLOSED, solved_at__isnull=True).exists()
    assert not Ticket.objects.filter(status=Status.NEW, first_response_at__isnull=False).exists()
    assert not Ticket.objects.filter(status=Status.OPEN, first_response_at__isnull=True).exists()
    ticket = Ticket.objects.filter(first_response_at__isnull=False).first()
    first_agent_reply = (
        ticket.messages.filter(author_user__isnull=False, public=True)
        .order_by("created_at")
        .first()
    )
    assert first_agent_reply.created_at == ticket.first_response_at
    # every ticket belongs to its requester's account
    assert not Ticket.objects.exclude(account=F("requester__account")).exists()


def test_seeded_data_uses_the_id_sequences_afterwards():
    _seed(accounts=2, tickets=5)
    account = Account.objects.create(name="After seed")
    assert account.pk > Account.objects.exclude(pk=account.pk).order_by("-pk").first().pk


def test_tickets_without_accounts_are_refused():
    with pytest.raises(CommandError, match="needs at least one account"):
        _seed(accounts=0, tickets=5)


def test_search_indexes_are_back_after_seeding():
    from django.db import connection

    _seed(accounts=2, tickets=5)
    with connection.cursor() as cursor:
        cursor.execute("SELECT indexname FROM pg_indexes WHERE tablename = 'support_ticket'")
        names = {row[0] for row in cursor.fetchall()}
    assert {"ticket_search_vector_gin", "ticket_tags_gin", "ticket_unsolved_updated"} <= names


def test_seed_demo_sets_up_sla_policies_and_the_clocks_of_open_tickets():
    from support import selectors, services
    from support.models import UNSOLVED_Q, SlaAlert, SlaPolicy

    started = timezone.now()
    _seed(accounts=12, tickets=400, seed=7)
    policies = {p.name: p for p in SlaPolicy.objects.prefetch_related("targets")}
    assert set(policies) == {"Enterprise urgent (24/7)", "Enterprise", "Standard"}
    assert policies["Enterprise urgent (24/7)"].calendar is None  # calendar time
    assert policies["Standard"].calendar.time_zone == "Europe/Berlin"
    assert policies["Standard"].targets.count() == 12  # 4 priorities x 3 targets

    unsolved = Ticket.objects.filter(UNSOLVED_Q)
    assert unsolved.exists()
    assert not unsolved.filter(sla_policy__isnull=True).exists()
    assert not Ticket.objects.exclude(UNSOLVED_Q).exclude(sla_due_at=None).exists()
    # What the bulk computation stored is what the services compute for the same ticket.
    for ticket in unsolved.order_by("?")[:25]:
        stored = (ticket.sla_policy_id, ticket.sla_due_at, ticket.sla_warn_at)
        services.ticket_sla_refresh(ticket=ticket, policies=selectors.sla_policies())
        assert (ticket.sla_policy_id, ticket.sla_due_at, ticket.sla_warn_at) == stored
    # Moments already past were recorded as they came; later ones wait for the job.
    assert SlaAlert.objects.filter(recorded_at__isnull=False).exists()
    assert not SlaAlert.objects.filter(recorded_at__isnull=True, at__lt=started).exists()


def test_seed_demo_sets_up_plan_templates_plans_and_touchpoints():
    from success.models import PlanMilestone, PlanTemplate, SuccessPlan, Touchpoint

    _seed(accounts=30, tickets=10, seed=7)
    assert SuccessPlan.objects.exists()
    assert PlanMilestone.objects.filter(status="done").exists()
    assert PlanMilestone.objects.filter(status="todo").exists()
    assert Touchpoint.objects.filter(participants__isnull=False).exists()
    assert not SuccessPlan.objects.filter(account__lifecycle_stage="churned").exists()
    assert set(PlanTemplate.objects.values_list("name", flat=True)) >= {
        "Onboarding",
        "Adoption",
        "Renewal",
    }
