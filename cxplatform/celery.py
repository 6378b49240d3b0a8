"""The Celery application. Tasks live in each app's tasks.py; the beat schedule in
`cxplatform.schedule` so every periodic job is listed in one place."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "cxplatform.settings")

app = Celery("cxplatform")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@app.on_after_finalize.connect
def _install_beat_schedule(sender: Celery, **kwargs: object) -> None:
    from cxplatform.schedule import BEAT_SCHEDULE

    sender.conf.beat_schedule = BEAT_SCHEDULE
