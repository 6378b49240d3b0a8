"""The periodic jobs, run the way beat runs them: a real Celery worker process."""

from datetime import timedelta

import pytest
from django.utils import timezone

from cxplatform.celery import app
from cxplatform.schedule import BEAT_SCHEDULE
from support.choices import Status
from support.models import Ticket, TicketEvent
from support.tasks import close_solved_tickets_task
from tests.factories import TicketFactory


def test_every_beat_entry_names_a_registered_task():
    app.loader.import_default_modules()
    for entry in BEAT_SCHEDULE.values():
        assert entry["task"] in app.tasks, entry["task"]


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_worker_closes_solved_tickets_once(celery_worker_process):
    old = TicketFactory(status=Status.SOLVED, solved_at=timezone.now() - timedelta(days=5))
    recent = TicketFactory(status=Status.SOLVED, solved_at=timezone.now() - timedelta(days=1))

    assert close_solved_tickets_task.delay().get(timeout=60) == 1
    assert close_solved_tickets_task.delay().get(timeout=60) == 0  # a re-run finds nothing

    old.refresh_from_db()
    recent.refresh_from_db()
    assert old.status == Status.CLOSED
    assert old.closed_at is not None
    assert recent.status == Status.SOLVED
    assert TicketEvent.objects.filter(ticket=old, field="status", new_value="closed").count() == 1
    assert Ticket.objects.filter(status=Status.CLOSED).count() == 1
