from django.contrib import messages
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST, require_safe

from .api.forms import ApiTokenForm
from .forms import EmailLoginForm
from .models import ApiToken, Notification
from .permissions import STAFF, role_required
from .services import (
    api_token_create,
    api_token_revoke,
    notification_open,
    notifications_mark_all_read,
)

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


# --- API tokens ---------------------------------------------------------------------------


@role_required(*STAFF)
def api_tokens(request: HttpRequest) -> HttpResponse:
    """The person's API tokens: create one (its secret is shown on this response only),
    see when each was last used, revoke them."""
    created = secret = None
    if request.method == "POST":
        form = ApiTokenForm(request.POST)
        if form.is_valid():
            try:
                created, secret = api_token_create(
                    user=request.user,
                    name=form.cleaned_data["name"],
                    scopes=form.cleaned_data["scopes"],
                    expires_at=form.expires_at(),
                )
            except ValidationError as error:
                form.add_error(None, error)
            else:
                form = ApiTokenForm()
    elif request.method in ("GET", "HEAD"):
        form = ApiTokenForm()
    else:
        return HttpResponse(status=405, headers={"Allow": "GET, HEAD, POST"})
    tokens = list(ApiToken.objects.filter(user=request.user).order_by("-created_at", "-id"))
    response = render(
        request,
        "accounts/api_tokens.html",
        {"form": form, "tokens": tokens, "created": created, "secret": secret},
        status=400 if request.method == "POST" and form.errors else 200,
    )
    if secret:
        response.headers["Cache-Control"] = "no-store"  # the secret must not be cached
    return response


@require_POST
@role_required(*STAFF)
def api_token_revoke_view(request: HttpRequest, pk: int) -> HttpResponse:
    api_token = get_object_or_404(ApiToken, pk=pk, user=request.user)
    if api_token_revoke(api_token=api_token):
        messages.success(request, f"Revoked the token “{api_token.name}”. It no longer works.")
    return redirect("api-tokens")
