from django.contrib import messages
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST, require_safe

from .forms import EmailLoginForm
from .models import Notification
from .permissions import STAFF, role_required
from .services import notification_open, notifications_mark_all_read

NOTIFICATIONS_SHOWN = 50


@login_required
def home(request: HttpRequest) -> HttpResponse:
    """Send each person to their role's home: the queue, the portfolio, the reports."""
    return redirect(request.user.home_url())


class LoginView(auth_views.LoginView):
    form_class = EmailLoginForm
    redirect_authenticated_user = True


# --- notifications ------------------------------------------------------------------------


@require_safe
@role_required(*STAFF)
def notifications(request: HttpRequest) -> HttpResponse:
    """The person's most recent notifications, newest first (the bell links here)."""
    shown = list(
        Notification.objects.filter(user=request.user).only(
            "pk", "user_id", "title", "body", "url", "created_at", "read_at"
        )[:NOTIFICATIONS_SHOWN]
    )
    return render(
        request,
        "accounts/notifications.html",
        {
            "notifications": shown,
            "any_unread": any(n.read_at is None for n in shown),
            "limit": NOTIFICATIONS_SHOWN,
        },
    )


@require_POST
@role_required(*STAFF)
def notification_open_view(request: HttpRequest, pk: int) -> HttpResponse:
    """Mark one of the person's notifications read and go where it points. A POST, so that
    a link prefetcher or a crawler never marks anything read."""
    notification = get_object_or_404(Notification, pk=pk, user=request.user)
    notification_open(notification=notification)
    if _is_local_path(notification.url):
        return redirect(notification.url)
    return redirect("notifications")


@require_POST
@role_required(*STAFF)
def notifications_read(request: HttpRequest) -> HttpResponse:
    marked = notifications_mark_all_read(user=request.user)
    if marked:
        messages.success(request, f"Marked {marked} notification{'s' if marked != 1 else ''} read.")
    return redirect("notifications")


def _is_local_path(url: str) -> bool:
    """Only a path on this site ("/support/tickets/12/"), never another host or scheme."""
    return (
        url.startswith("/")
        and not url.startswith(("//", "/\\"))
        and url_has_allowed_host_and_scheme(url, allowed_hosts=None)
    )
