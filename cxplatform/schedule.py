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
# Every account's health score for the day (issue 7), at night; events recompute single
# accounts during the day.
BEAT_SCHEDULE["metrics-health-recompute"] = {
    "task": "metrics.tasks.health_recompute_all_task",
    "schedule": crontab(hour=2, minute=15),
}
# The daily metric snapshots (issue 7): yesterday in full after midnight (plus FCR of the
# week before), and today so far every hour for reports that end today.
BEAT_SCHEDULE["metrics-snapshots-nightly"] = {
    "task": "metrics.tasks.snapshots_nightly_task",
    "schedule": crontab(hour=0, minute=30),
}
BEAT_SCHEDULE["metrics-snapshots-today"] = {
    "task": "metrics.tasks.snapshots_today_task",
    "schedule": crontab(minute=50),
}
# Escalation flags between the teams (issue 7): every rule over all accounts.
BEAT_SCHEDULE["metrics-escalations-evaluate"] = {
    "task": "metrics.tasks.escalations_evaluate_task",
    "schedule": 300.0,
}
# API idempotency keys are kept 24 hours, then removed.
BEAT_SCHEDULE["accounts-idempotency-keys-purge"] = {
    "task": "accounts.tasks.idempotency_keys_purge_task",
    "schedule": crontab(minute=23),
}
# Webhook deliveries whose retry (exponential backoff, 24 hours) is due.
BEAT_SCHEDULE["accounts-webhook-retries-due"] = {
    "task": "accounts.tasks.webhook_retries_due_task",
    "schedule": 60.0,
}
