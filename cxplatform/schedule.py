"""Every periodic job in one place. Each task is idempotent and safe to run twice at once."""

from celery.schedules import crontab

BEAT_SCHEDULE: dict[str, dict] = {
    "support-close-solved-tickets": {
        "task": "support.tasks.close_solved_tickets_task",
        "schedule": crontab(minute="*/15"),
    },
}
BEAT_SCHEDULE["support-sla-alerts"] = {
    "task": "support.tasks.sla_alerts_record_task",
    "schedule": 60.0,
}
