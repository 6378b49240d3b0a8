"""The customer portal: sign-in by magic link (or password), the contact's tickets, replies,
new tickets with knowledge-base suggestions.

Every page that shows a ticket goes through `selectors.portal` with the signed-in contact,
so another customer's ticket, message or file answers 404 like one that does not exist.
Customers get the portal's own layout (templates/support/portal/base.html): no staff
navigation, search or notifications ever reach them.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from functools import wraps

import redis
from django.contrib import messages
from django.contrib.auth import login, logout, update_session_auth_hash
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_POST, require_safe

from accounts.choices import Role
from accounts.models import Contact

from ..forms_portal import (
    PortalPasswordSignInForm,
    PortalReplyForm,
    PortalSetPasswordForm,
    PortalTicketForm,
    SignInLinkForm,
)
from ..selectors import BadCursor
from ..selectors import portal as portal_selectors
from ..selectors import surveys as survey_selectors
from ..services import TicketError, ticket_customer_reply
from ..services import portal as portal_services
from ..ticket_forms import add_service_errors

logger = logging.getLogger(__name__)

SENT_NOTICE = (
    "If that address belongs to a contact, we sent a link to it. It works once, for 15 "
    "minutes. Check your spam folder if it does not arrive within a few minutes."
)
BACKEND = "django.contrib.auth.backends.ModelBackend"


def _client_ip(request: HttpRequest) -> str:
    return request.META.get("REMOTE_ADDR", "") or "unknown"


def portal_login_required(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Signed-in customers linked to a contact pass, with `request.contact` set; anonymous
    visitors go to the portal's sign-in page; staff get 403 (they have the agent pages)."""

    @wraps(view)
    def wrapped(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        user = request.user
        if not user.is_authenticated:
            return redirect_to_login(request.get_full_path(), reverse("support:portal-sign-in"))
        if user.role != Role.CUSTOMER:
            raise PermissionDenied("The portal is for customers; staff use the agent pages.")
        contact = Contact.objects.filter(user=user).select_related("account").first()
        if contact is None:
            raise PermissionDenied("This login is not linked to a contact. Ask us to link it.")
        request.contact = contact
        return view(request, *args, **kwargs)

    return wrapped


# --- signing in -------------------------------------------------------------------------


def _sign_in_page(request: HttpRequest, *, status: int = 200, **context) -> HttpResponse:
    context.setdefault("form", SignInLinkForm())
    context.setdefault("password_form", PortalPasswordSignInForm())
    return render(request, "support/portal/sign_in.html", context, status=status)


def _throttled(request: HttpRequest, email: str, **context) -> HttpResponse | None:
    """The refusal page when this address or client asked too often, else None."""
    try:
        portal_services.portal_sign_in_throttle(email=email, client_ip=_client_ip(request))
    except portal_services.SignInRateLimited as error:
        response = _sign_in_page(request, status=429, limited=str(error), **context)
        response["Retry-After"] = str(error.retry_after)
        return response
    except redis.RedisError:
        logger.exception("portal sign-in: the rate limiter is unreachable")
        return _sign_in_page(
            request,
            status=503,
            limited="Signing in is unavailable for a moment. Try again in a minute.",
            **context,
        )
    return None


@require_http_methods(["GET", "HEAD", "POST"])
def sign_in(request: HttpRequest) -> HttpResponse:
    """Ask for a sign-in link. The answer never says whether the address is a contact's."""
    if request.user.is_authenticated and request.user.role == Role.CUSTOMER:
        return redirect("support:portal-home")
    if request.method != "POST":
        return _sign_in_page(request)
    form = SignInLinkForm(request.POST)
    if not form.is_valid():
        return _sign_in_page(request, status=400, form=form)
    email = form.cleaned_data["email"]
    refused = _throttled(request, email, form=form)
    if refused:
        return refused
    portal_services.portal_sign_in_request(email=email)
    return _sign_in_page(request, sent=SENT_NOTICE)


@require_POST
def sign_in_password(request: HttpRequest) -> HttpResponse:
    form = PortalPasswordSignInForm(request.POST, request=request)
    email = request.POST.get("email", "")
    refused = _throttled(request, email, password_form=form)
    if refused:
        return refused
    if not form.is_valid():
        return _sign_in_page(request, status=400, password_form=form)
    login(request, form.user, backend=BACKEND)
    return redirect("support:portal-home")


def _link_refused(request: HttpRequest, error: portal_services.LoginLinkError) -> HttpResponse:
    return render(
        request,
        "support/portal/sign_in_link.html",
        {"error": str(error), "form": SignInLinkForm()},
        status=error.status,
    )


@never_cache
@require_http_methods(["GET", "HEAD", "POST"])
def sign_in_link(request: HttpRequest, token: str) -> HttpResponse:
    """GET shows a button (mail scanners that open links do not spend them); POST signs in.
    The page's URL holds the token: it is neither cached nor sent on as a Referer."""
    response = _sign_in_link(request, token)
    response["Referrer-Policy"] = "no-referrer"
    return response


def _sign_in_link(request: HttpRequest, token: str) -> HttpResponse:
    if request.method != "POST":
        try:
            contact = portal_services.portal_login_token_check(raw_token=token)
        except portal_services.LoginLinkError as error:
            return _link_refused(request, error)
        return render(request, "support/portal/sign_in_link.html", {"contact": contact})
    try:
        user = portal_services.portal_login_token_redeem(raw_token=token)
    except portal_services.LoginLinkError as error:
        return _link_refused(request, error)
    login(request, user, backend=BACKEND)
    messages.success(request, "You are signed in.")
    return redirect("support:portal-home")


@require_POST
def sign_out(request: HttpRequest) -> HttpResponse:
    logout(request)
    return redirect("support:portal-sign-in")


@require_http_methods(["GET", "HEAD", "POST"])
@portal_login_required
def password_set(request: HttpRequest) -> HttpResponse:
    """Choose a password, to sign in without waiting for a link next time."""
    form = PortalSetPasswordForm(request.user, request.POST or None)
    if request.method == "POST" and form.is_valid():
        portal_services.portal_password_set(
            user=request.user, password=form.cleaned_data["new_password1"]
        )
        update_session_auth_hash(request, request.user)  # stay signed in
        messages.success(request, "Password saved. You can now sign in with it.")
        return redirect("support:portal-home")
    status = 400 if request.method == "POST" else 200
    return render(request, "support/portal/password.html", {"form": form}, status=status)


# --- tickets ----------------------------------------------------------------------------


@require_safe
@portal_login_required
def portal_home(request: HttpRequest) -> HttpResponse:
    """The contact's tickets, newest first, filtered by open/solved, paged by keyset."""
    status = request.GET.get("status", "")
    if status not in portal_selectors.STATUS_FILTERS:
        status = ""
    try:
        page = portal_selectors.portal_ticket_page(
            contact=request.contact, status=status or None, cursor=request.GET.get("cursor")
        )
    except BadCursor:
        messages.error(request, "That page link is no longer valid: showing the newest tickets.")
        return redirect(reverse("support:portal-home") + (f"?status={status}" if status else ""))
    context = {
        "contact": request.contact,
        "page": page,
        "status": status,
        "counts": portal_selectors.portal_ticket_counts(contact=request.contact),
        "csat_prompts": survey_selectors.csat_pending_for_contact(contact=request.contact),
    }
    return render(request, "support/portal/home.html", context)


def _ticket_page(
    request: HttpRequest, number: int, *, form: PortalReplyForm | None = None, status: int = 200
) -> HttpResponse:
    ticket = portal_selectors.portal_ticket(contact=request.contact, number=number)
    context = {
        "ticket": ticket,
        "contact": request.contact,
        "form": form or PortalReplyForm(),
        "csat_prompt": survey_selectors.csat_prompt_for_ticket(
            contact=request.contact, ticket=ticket
        ),
    }
    template = "support/portal/ticket.html"
    if request.htmx and not request.htmx.boosted:
        template += "#conversation"
    return render(request, template, context, status=status)


@require_safe
@portal_login_required
def portal_ticket_detail(request: HttpRequest, number: int) -> HttpResponse:
    return _ticket_page(request, number)


@require_POST
@portal_login_required
def portal_ticket_reply(request: HttpRequest, number: int) -> HttpResponse:
    # Scope first: someone else's ticket is a 404 whatever was posted.
    ticket = portal_selectors.portal_ticket(contact=request.contact, number=number)
    form = PortalReplyForm(request.POST, request.FILES)
    if not form.is_valid():
        return _ticket_page(request, number, form=form, status=400)
    try:
        message = ticket_customer_reply(
            ticket_id=ticket.pk,
            contact=request.contact,
            body=form.cleaned_data["body"],
            attachments=form.cleaned_data["attachments"],
        )
    except ValidationError as error:
        add_service_errors(form, error)
        return _ticket_page(request, number, form=form, status=400)
    except TicketError as error:
        form.add_error(None, str(error))
        return _ticket_page(request, number, form=form, status=409)
    if message.ticket_id != ticket.pk:
        # The ticket was closed: the reply opened a follow-up ticket.
        messages.success(request, "That ticket was closed, so we opened a new one for you.")
        return redirect("support:portal-ticket", number=message.ticket_id)
    if request.htmx and not request.htmx.boosted:
        return _ticket_page(request, number)
    messages.success(request, "Reply sent.")
    return redirect("support:portal-ticket", number=number)


@require_safe
@portal_login_required
def portal_attachment(request: HttpRequest, pk: int) -> FileResponse:
    attachment = portal_selectors.portal_attachment(contact=request.contact, pk=pk)
    try:
        handle = attachment.file.open("rb")
    except (FileNotFoundError, ValueError):
        raise Http404("The file of this attachment is no longer stored.") from None
    response = FileResponse(
        handle,
        as_attachment=True,
        filename=attachment.filename,
        content_type="application/octet-stream",
    )
    response["X-Content-Type-Options"] = "nosniff"
    return response


# --- a new ticket -----------------------------------------------------------------------


@require_http_methods(["GET", "HEAD", "POST"])
@portal_login_required
def portal_ticket_new(request: HttpRequest) -> HttpResponse:
    if request.method != "POST":
        return render(request, "support/portal/ticket_new.html", {"form": PortalTicketForm()})
    form = PortalTicketForm(request.POST, request.FILES)
    if form.is_valid():
        data = form.cleaned_data
        try:
            ticket = portal_services.portal_ticket_submit(
                contact=request.contact,
                subject=data["subject"],
                body=data["body"],
                attachments=data["attachments"],
            )
        except ValidationError as error:
            add_service_errors(form, error)
        else:
            messages.success(request, f"Ticket #{ticket.pk} is open. We will reply by email.")
            return redirect("support:portal-ticket", number=ticket.pk)
    return render(request, "support/portal/ticket_new.html", {"form": form}, status=400)


def _suggested(text: str) -> list:
    # The knowledge base may be absent from a deployment (or not built yet): no suggestions.
    try:
        from ..selectors.knowledge import articles_suggested
    except ImportError:
        return []
    return articles_suggested(text=text, limit=5)


@require_safe
@portal_login_required
def portal_suggestions(request: HttpRequest) -> HttpResponse:
    """Help articles matching the subject typed so far (htmx, debounced in the page)."""
    text = request.GET.get("subject", "")[:200]
    articles = _suggested(text)
    return render(
        request, "support/portal/ticket_new.html#suggestions", {"articles": articles, "text": text}
    )


@require_safe
@portal_login_required
def portal_suggestion_open(request: HttpRequest, article_id: int) -> HttpResponse:
    """Record that a suggested article was opened (for deflection), then show it."""
    try:
        from ..models import Article
        from ..selectors.knowledge import PUBLIC_Q
    except ImportError:
        raise Http404("The help centre is not available.") from None
    article = (
        Article.objects.filter(PUBLIC_Q, pk=article_id).select_related("section__category").first()
    )
    if article is None:
        raise Http404("No such article.")
    portal_services.portal_deflection_record(contact=request.contact, article_id=article.pk)
    return redirect(article.get_absolute_url())
