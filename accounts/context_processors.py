"""The left navigation, which depends on the signed-in person's role, and the top bar's
notifications bell."""

import functools

from django.http import HttpRequest

from .choices import Role
from .models import Notification

# The bell shows "99+" beyond this: counting stops there, however many are unread.
UNREAD_SHOWN_MAX = 99

# (label, URL name, Bootstrap icon) per role; URL names belong to the app that owns the page.
_SUPPORT = [("Queue", "support:queue", "inbox"), ("Knowledge base", "support:kb", "book")]
_SUCCESS = [("My accounts", "success:home", "building")]
_REPORTS = [("Reports", "metrics:reports", "graph-up")]
_ADMIN = [("Admin", "admin:index", "gear")]

NAVIGATION = {
    Role.AGENT: _SUPPORT,
    Role.CSM: _SUCCESS + _SUPPORT,
    Role.MANAGER: _REPORTS + _SUPPORT + _SUCCESS,
    Role.ADMIN: _REPORTS + _SUPPORT + _SUCCESS + _ADMIN,
    Role.CUSTOMER: [("My tickets", "support:portal-home", "chat-left-text")],
}


def navigation(request: HttpRequest) -> dict:
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {"nav_items": []}
    context = {"nav_items": NAVIGATION.get(user.role, [])}
    if user.is_staff_member:
        # Called by the template only when it draws the bell (full pages, not htmx
        # partials), and at most once per render however often the template reads it.
        context["unread_notifications"] = functools.cache(lambda: unread_count(user))
    return context


def unread_count(user) -> int:
    """Unread notifications, counted up to UNREAD_SHOWN_MAX + 1 (a partial index scan)."""
    return Notification.objects.filter(user=user, read_at__isnull=True)[
        : UNREAD_SHOWN_MAX + 1
    ].count()
