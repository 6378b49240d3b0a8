"""The left navigation, which depends on the signed-in person's role."""

from django.http import HttpRequest

from .choices import Role

# (label, URL name, Bootstrap icon) per role; URL names belong to the app that owns the page.
_SUPPORT = [("Queue", "support:queue", "inbox")]
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
    return {"nav_items": NAVIGATION.get(user.role, [])}
