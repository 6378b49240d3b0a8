"""Beat entry -> task -> snapshot rows, through a real Celery worker process."""

import datetime as dt

import pytest
from django.utils import timezone

from cxplatform.celery import app
from cxplatform.schedule import BEAT_SCHEDULE
from metrics.catalogue import COMPANY_ID
from metrics.models import MetricSnapshot, SubjectKind
from metrics.services.snapshots import day_window
from tests.factories import TicketFactory


def test_the_snapshot_beat_entries_name_registered_tasks():
    app.loader.import_default_modules()
    for name in ("metrics-snapshots-nightly", "metrics-snapshots-today"):
        assert BEAT_SCHEDULE[name]["task"] in app.tasks


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_the_nightly_beat_entry_writes_yesterdays_snapshots_through_a_worker(
    celery_worker_process,
):
    yesterday = timezone.localdate() - dt.timedelta(days=1)
    start = day_window(yesterday).start
    for hours in (2, 5, 9):
        TicketFactory(created_at=start + dt.timedelta(hours=hours))

    task = BEAT_SCHEDULE["metrics-snapshots-nightly"]["task"]
    written = app.send_task(task).get(timeout=120)

    assert written > 0
    row = MetricSnapshot.objects.get(
        day=yesterday,
        metric="tickets_created",
        subject_kind=SubjectKind.COMPANY,
        subject_id=COMPANY_ID,
    )
    assert row.value == 3
    assert row.parts == {"count": 3}
    # Beat fires again (or a second worker picks it up): nothing changes.
    assert app.send_task(task).get(timeout=120) == 0
