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
BEAT_SCHEDULE["support-article-views-flush"] = {
    "task": "support.tasks.article_views_flush_task",
    "schedule": 300.0,
}
# Poll the support mailbox (a no-op while CX_IMAP_URL is empty).
BEAT_SCHEDULE["support-fetch-mail"] = {
    "task": "support.tasks.fetch_mail_task",
    "schedule": 60.0,
}
# Spent and expired portal sign-in links are kept a day (for support questions), then removed.
BEAT_SCHEDULE["support-portal-login-tokens-purge"] = {
    "task": "support.tasks.portal_login_tokens_purge_task",
    "schedule": crontab(minute=7),
}
