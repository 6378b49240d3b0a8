"""One ticket's page: the thread, the composer, properties, history and customer context.

Views validate, call a service or selector, and render. Every write goes through
`support.services`; a refusal (`TicketError`, `ValidationError`) is shown in the page with
what the agent typed kept: 400 for input the agent can fix, 409 when someone else got there
first (a newer reply, a newer version, a claimed ticket). htmx requests get the page's
`ticket` partial (or a smaller one) instead of the whole page.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime, tzinfo

import redis
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.db import transaction
from django.http import (
    FileResponse,
    Http404,
    HttpRequest,
    HttpResponse,
    HttpResponseRedirect,
    QueryDict,
)
from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.views.decorators.http import require_http_methods, require_POST, require_safe

from accounts.models import Team, User
from accounts.permissions import SUPPORT_STAFF, role_required
from accounts.services import contact_get_or_create

from .. import presence, selectors, services, sla
from ..choices import EventKind, Priority, Status, TicketType
from ..models import Article, Attachment, Macro, SlaPolicy, Ticket, TicketEvent
from ..ticket_forms import (
    MergeForm,
    ReplyForm,
    TicketCreateForm,
    TicketPropertiesForm,
    add_service_errors,
)

logger = logging.getLogger(__name__)

TEMPLATE = "support/ticket_detail.html"


# --- helpers ------------------------------------------------------------------------------


def _partial_request(request: HttpRequest) -> bool:
    return bool(request.htmx) and not request.htmx.boosted


def _wants_page(request: HttpRequest) -> bool:
    """A browser form submission (answer with a redirect and a message), as opposed to a
    script's fetch() or an htmx request (answer with a status code and a short text)."""
    if _partial_request(request):
        return False
    if request.headers.get("Sec-Fetch-Mode") == "navigate":
        return True
    return "text/html" in request.headers.get("Accept", "")


def _not_found(request: HttpRequest, number: int) -> HttpResponse:
    return render(request, TEMPLATE, {"missing_number": number}, status=404)


def _load(number: int) -> Ticket | None:
    return selectors.ticket_detail(number=number)


def _reply_initial(ticket: Ticket) -> dict:
    return {
        "public": "1",
        "seen_message_id": selectors.latest_public_message_id(ticket=ticket),
        "version": ticket.version,
    }


@dataclass(frozen=True)
class HistoryEntry:
    text: str
    at: datetime
    kind: str
    ticket_number: int | None = None


_CHOICE_LABELS = {
    "status": dict(Status.choices),
    "priority": dict(Priority.choices),
    "type": dict(TicketType.choices),
}
_EMPTY = {"assignee": "Unassigned", "team": "no team", "tags": "no tags"}
_ACTOR_LABELS = {"round-robin": "Round-robin assignment", "auto-close": "Auto-close"}
# `sla` events name the column whose due time moved; warnings and breaches name the metric.
_SLA_DUE_LABELS = {f"{metric}_due_at": label for metric, label in sla.METRIC_LABELS.items()}


def _moment_text(value: str, zone: tzinfo | None) -> str:
    """An event's stored time (ISO, or PostgreSQL's text form) in the viewer's zone."""
    moment = parse_datetime(value) if value else None
    if moment is None:
        return value or "none"
    if timezone.is_naive(moment):
        moment = moment.replace(tzinfo=UTC)
    local = timezone.localtime(moment, zone)
    return f"{local:%a} {local.day} {local:%b} {local:%H:%M %Z}"


def ticket_history(
    ticket: Ticket, events: list[TicketEvent], *, zone: tzinfo | None = None
) -> list[HistoryEntry]:
    """Events as sentences ("Alex changed status from Open to Pending"), newest first, with
    times in `zone` (the viewer's; None: the platform's).

    Users, teams and SLA policies named in events are resolved with one query each for
    the whole history, never one per row.
    """
    user_ids, team_ids, policy_ids = set(), set(), set()
    for event in events:
        ids = user_ids if event.field == "assignee" else team_ids if event.field == "team" else None
        if event.kind == EventKind.SLA and event.field == "sla_policy":
            ids = policy_ids
        if ids is not None:
            ids.update(int(v) for v in (event.old_value, event.new_value) if v.isdigit())
    names: dict[str, dict[str, str]] = {"assignee": {}, "team": {}}
    if user_ids:
        names["assignee"] = {
            str(pk): full_name or email
            for pk, full_name, email in User.objects.filter(pk__in=user_ids).values_list(
                "pk", "full_name", "email"
            )
        }
    if team_ids:
        names["team"] = {
            str(pk): name
            for pk, name in Team.objects.filter(pk__in=team_ids).values_list("pk", "name")
        }
    policies = (
        {
            str(pk): name
            for pk, name in SlaPolicy.objects.filter(pk__in=policy_ids).values_list("pk", "name")
        }
        if policy_ids
        else {}
    )
    authors = {str(m.pk): m.author_contact.name for m in ticket.messages.all() if m.author_contact}
    # Knowledge base links (services/knowledge.py): the articles' titles, one query.
    article_ids = {
        int(v)
        for event in events
        if event.field == "article"
        for v in (event.old_value, event.new_value)
        if v.isdigit()
    }
    articles = (
        {
            str(pk): title
            for pk, title in Article.objects.filter(pk__in=article_ids).values_list("pk", "title")
        }
        if article_ids
        else {}
    )

    def shown(field: str, value: str) -> str:
        if not value:
            return _EMPTY.get(field, "none")
        if field in names:
            return names[field].get(value, f"a deleted {field} (#{value})")
        return _CHOICE_LABELS.get(field, {}).get(value, value)

    def who(event: TicketEvent) -> str:
        if event.actor_id and event.actor:
            return str(event.actor)
        if event.actor_label == "customer":
            return authors.get(event.new_value) or ticket.requester.name or "The customer"
        return _ACTOR_LABELS.get(event.actor_label, event.actor_label.capitalize() or "System")

    entries = []
    for event in events:
        actor, number = who(event), None
        if event.kind == EventKind.CREATED:
            text = f"{actor} opened the ticket"
        elif event.kind == EventKind.CHANGED and event.field == "article":
            article_id = event.new_value or event.old_value
            title = articles.get(article_id, f"a deleted article (#{article_id})")
            verb = "linked" if event.new_value else "unlinked"
            text = f"{actor} {verb} the article “{title}”"
        elif event.kind == EventKind.CHANGED:
            label = event.field.replace("_", " ")
            text = (
                f"{actor} changed {label} from {shown(event.field, event.old_value)} "
                f"to {shown(event.field, event.new_value)}"
            )
        elif event.kind == EventKind.REPLIED:
            text = f"{actor} replied"
        elif event.kind == EventKind.NOTED:
            text = f"{actor} added an internal note"
        elif event.kind == EventKind.CUSTOMER_REPLIED:
            text = f"{actor} replied"
        elif event.kind == EventKind.REOPENED:
            text = (
                "The customer's reply reopened the ticket"
                if event.actor_label == "customer"
                else f"{actor} reopened the ticket"
            )
        elif event.kind == EventKind.MERGED:
            number = int(event.new_value) if event.new_value.isdigit() else None
            text = (
                f"{actor} merged this ticket into #{event.new_value}"
                if event.field == "merged_into"
                else f"{actor} merged #{event.new_value} into this ticket"
            )
        elif event.kind == EventKind.MACRO:
            text = f"{actor} applied the macro “{event.new_value}”"
        elif event.kind == EventKind.SLA:
            text = _sla_event_text(event, zone, policies)
        elif event.kind in (EventKind.SLA_WARNING, EventKind.SLA_BREACH):
            label = sla.METRIC_LABELS.get(event.field, event.field.replace("_", " ").capitalize())
            if event.kind == EventKind.SLA_WARNING:
                text = f"{label} at risk (due {_moment_text(event.new_value, zone)})"
            else:
                text = f"{label} breached (was due {_moment_text(event.new_value, zone)})"
        else:
            text = f"{actor}: {event.get_kind_display()}"
        entries.append(
            HistoryEntry(text=text, at=event.created_at, kind=event.kind, ticket_number=number)
        )
    return entries


def _sla_event_text(event: TicketEvent, zone: tzinfo | None, policies: dict[str, str]) -> str:
    if event.field == "sla_policy":
        old, new = (
            policies.get(v, f"a deleted policy (#{v})") if v else ""
            for v in (event.old_value, event.new_value)
        )
        if not old:
            return f"SLA policy “{new}” applies"
        if not new:
            return f"SLA policy “{old}” no longer applies"
        return f"SLA policy changed from “{old}” to “{new}”"
    label = _SLA_DUE_LABELS.get(event.field, event.field.replace("_", " ").capitalize())
    return (
        f"{label} due time moved from {_moment_text(event.old_value, zone)} "
        f"to {_moment_text(event.new_value, zone)}"
    )


def _sla_context(ticket: Ticket) -> dict:
    """The SLA panel: each clock, computed from the event log, and the policy's name."""
    panel = selectors.ticket_sla_clocks(ticket)
    return {"sla_clocks": panel.clocks, "sla_policy": panel.policy}


def _context(
    request: HttpRequest,
    ticket: Ticket,
    *,
    reply_form: ReplyForm | None = None,
    properties_form: TicketPropertiesForm | None = None,
    merge_form: MergeForm | None = None,
    notice: str = "",
    notice_level: str = "warning",
    notice_for: str = "page",
    highlight_message_id: int | None = None,
    new_after: int | None = None,
    attempted_changes: list[str] | None = None,
) -> dict:
    thread = list(ticket.messages.all())
    # Marked "New": the message just sent, or all that arrived after what the agent had seen.
    if new_after is not None:
        new_ids = {m.pk for m in thread if m.pk > new_after}
    else:
        new_ids = {highlight_message_id} if highlight_message_id else set()
    return {
        "ticket": ticket,
        "thread": thread,
        "history": ticket_history(ticket, list(ticket.events.all()), zone=request.user.zone),
        **_sla_context(ticket),
        "account": ticket.account,
        "other_open_tickets": selectors.account_other_open_tickets(ticket=ticket),
        "macros": list(Macro.objects.filter(active=True).only("pk", "title")),
        "reply_form": reply_form or ReplyForm(initial=_reply_initial(ticket)),
        "properties_form": properties_form or TicketPropertiesForm(ticket=ticket),
        "merge_form": merge_form or MergeForm(),
        "is_closed": ticket.status == Status.CLOSED,
        "notice": notice,
        "notice_level": notice_level,
        "notice_for": notice_for,
        "new_message_ids": new_ids,
        "first_new_message_id": min(new_ids) if new_ids else None,
        "attempted_changes": attempted_changes or [],
    }


def _render_page(request: HttpRequest, ticket: Ticket, status: int = 200, **extra) -> HttpResponse:
    template = f"{TEMPLATE}#ticket" if _partial_request(request) else TEMPLATE
    return render(request, template, _context(request, ticket, **extra), status=status)


def _back_to(ticket_id: int) -> HttpResponseRedirect:
    return HttpResponseRedirect(reverse("support:ticket-detail", args=[ticket_id]))


# --- the page -----------------------------------------------------------------------------


@role_required(*SUPPORT_STAFF)
@require_safe
def ticket_detail(request: HttpRequest, number: int) -> HttpResponse:
    ticket = _load(number)
    if ticket is None:
        return _not_found(request, number)
    return _render_page(request, ticket)


@role_required(*SUPPORT_STAFF)
@require_POST
def ticket_reply(request: HttpRequest, number: int) -> HttpResponse:
    form = ReplyForm(request.POST, request.FILES)
    if not form.is_valid():
        ticket = _load(number)
        if ticket is None:
            return _not_found(request, number)
        return _render_page(request, ticket, status=400, reply_form=form)
    data = form.cleaned_data
    public = data["public"]
    try:
        message = services.ticket_reply(
            ticket_id=number,
            acting_user=request.user,
            body=data["body"],
            public=public,
            attachments=data["attachments"],
            seen_message_id=data["seen_message_id"],
            status=data["status"] or None,
            priority=data["priority"] or None,
            add_tags=data["add_tags"],
            macro=data["macro"],
            # The thread is guarded by seen_message_id; the version matters only when the
            # reply also changes properties someone else may have changed meanwhile.
            expected_version=data["version"] if form.changes_properties() else None,
        )
    except ValidationError as error:
        add_service_errors(form, error, aliases={"tags": "add_tags"})
        return _refused(request, number, form, status=400)
    except services.NewerReplyExists as error:
        return _refused(
            request,
            number,
            form,
            status=409,
            notice=str(error),
            new_after=form.cleaned_data["seen_message_id"] or 0,
        )
    except services.StaleTicket as error:
        return _refused(request, number, form, status=409, notice=str(error))
    except services.TicketError as error:
        return _refused(request, number, form, status=409, notice=str(error))
    done = "Reply sent." if public else "Internal note added."
    if _partial_request(request):
        ticket = _load(number)
        return _render_page(
            request,
            ticket,
            notice=done,
            notice_level="success",
            notice_for="composer",
            highlight_message_id=message.pk,
        )
    messages.success(request, done)
    return _back_to(number)


def _refused(
    request: HttpRequest,
    number: int,
    form: ReplyForm,
    *,
    status: int,
    notice: str = "",
    new_after: int | None = None,
) -> HttpResponse:
    """Show the page again with the agent's text in the composer. The hidden
    seen_message_id and version are brought up to date, so sending again goes through
    once the agent has read what changed."""
    ticket = _load(number)
    if ticket is None:
        return _not_found(request, number)
    if status == 409:
        data: QueryDict = form.data.copy()
        latest = selectors.latest_public_message_id(ticket=ticket)
        data["seen_message_id"] = "" if latest is None else str(latest)
        data["version"] = str(ticket.version)
        form = ReplyForm(data)
        if request.FILES:
            notice = f"{notice} Attach your files again before sending.".strip()
    return _render_page(
        request,
        ticket,
        status=status,
        reply_form=form,
        notice=notice,
        notice_for="page" if ticket.status == Status.CLOSED else "composer",
        new_after=new_after,
    )


@role_required(*SUPPORT_STAFF)
@require_POST
def ticket_update(request: HttpRequest, number: int) -> HttpResponse:
    ticket = _load(number)
    if ticket is None:
        return _not_found(request, number)
    form = TicketPropertiesForm(request.POST, ticket=ticket)
    if not form.is_valid():
        return _render_page(request, ticket, status=400, properties_form=form)
    changes = form.changes()
    try:
        services.ticket_update(
            ticket_id=number,
            acting_user=request.user,
            expected_version=form.cleaned_data["version"],
            **changes,
        )
    except ValidationError as error:
        add_service_errors(form, error)
        return _render_page(request, ticket, status=400, properties_form=form)
    except services.StaleTicket as error:
        # Show the current values (and version) with what the agent tried, never overwrite.
        current = _load(number)
        return _render_page(
            request,
            current,
            status=409,
            notice=str(error),
            notice_for="properties",
            attempted_changes=_describe(changes, form),
        )
    except services.TicketError as error:
        return _render_page(request, _load(number), status=409, notice=str(error))
    done = "Ticket updated." if changes else "Nothing to change."
    if _partial_request(request):
        return _render_page(
            request, _load(number), notice=done, notice_level="success", notice_for="properties"
        )
    messages.success(request, done)
    return _back_to(number)


def _describe(changes: dict[str, object], form: TicketPropertiesForm) -> list[str]:
    described = []
    for name, value in changes.items():
        field = form.fields[name]
        if name == "tags":
            shown = ", ".join(value) or "no tags"
        elif value is None:
            shown = "none"
        elif hasattr(field, "choices") and not hasattr(value, "pk"):
            shown = dict(field.choices).get(value, value)
        else:
            shown = str(value)
        described.append(f"{field.label}: {shown}")
    return described


@role_required(*SUPPORT_STAFF)
@require_POST
def ticket_claim(request: HttpRequest, number: int) -> HttpResponse:
    try:
        ticket = services.ticket_claim(ticket_id=number, acting_user=request.user)
    except services.AlreadyClaimed as error:
        return _claim_answer(request, number, str(error), status=409, level="warning")
    except services.TicketError as error:
        if not Ticket.objects.filter(pk=number).exists():
            if _wants_page(request):
                return _not_found(request, number)
            return HttpResponse(str(error), status=404, content_type="text/plain")
        return _claim_answer(request, number, str(error), status=409, level="warning")
    return _claim_answer(
        request, number, f"You have ticket #{ticket.pk}.", status=200, level="success"
    )


def _claim_answer(
    request: HttpRequest, number: int, text: str, *, status: int, level: str
) -> HttpResponse:
    if _wants_page(request):
        getattr(messages, level)(request, text)
        return _back_to(number)
    if _partial_request(request):
        return _render_page(request, _load(number), status=status, notice=text, notice_level=level)
    return HttpResponse(text, status=status, content_type="text/plain; charset=utf-8")


@role_required(*SUPPORT_STAFF)
@require_POST
def ticket_merge(request: HttpRequest, number: int) -> HttpResponse:
    ticket = _load(number)
    if ticket is None:
        return _not_found(request, number)
    form = MergeForm(request.POST)
    if form.is_valid():
        target = form.cleaned_data["target"]
        try:
            services.ticket_merge(source_id=number, target_id=target, acting_user=request.user)
        except services.TicketError as error:
            form.add_error("target", str(error))
        else:
            messages.success(request, f"Ticket #{number} was merged into #{target}.")
            response = _back_to(target)
            if _partial_request(request):
                response = HttpResponse(status=204, headers={"HX-Redirect": response.url})
            return response
    return _render_page(request, ticket, status=400, merge_form=form)


@role_required(*SUPPORT_STAFF)
@require_POST
def ticket_presence(request: HttpRequest, number: int) -> HttpResponse:
    """Report this agent on the ticket (viewing, replying, or left) and list the others."""
    state = request.POST.get("state", presence.VIEWING)
    others: list[presence.Presence] = []
    if Ticket.objects.filter(pk=number).exists():
        try:
            if state == "left":
                presence.presence_leave(number, request.user)
            else:
                presence.presence_touch(
                    number, request.user, state if state in presence.STATES else presence.VIEWING
                )
                others = presence.presence_list(number, exclude_user_id=request.user.pk)
        except redis.RedisError:
            # Presence is a courtesy: without Redis the page works, it just cannot tell.
            logger.warning("presence unavailable for ticket %s", number, exc_info=True)
    return render(request, f"{TEMPLATE}#presence", {"others": others})


@role_required(*SUPPORT_STAFF)
@require_safe
def macro_preview(request: HttpRequest, number: int, macro_id: int) -> HttpResponse:
    """The composer filled from a macro: its text (after what the agent already typed) and
    its status, priority and tags preselected."""
    partial = _partial_request(request)
    ticket = (
        Ticket.objects.select_related("requester").filter(pk=number).first()
        if partial
        else _load(number)
    )
    if ticket is None:
        return _not_found(request, number)
    macro = get_object_or_404(Macro, pk=macro_id, active=True)
    typed = request.GET.get("body", "").rstrip()
    text = services.macro_render_body(macro=macro, ticket=ticket, agent=request.user)
    initial = {
        "public": "1" if macro.public else "0",
        "body": f"{typed}\n\n{text}" if typed else text,
        "status": macro.set_status,
        "priority": macro.set_priority,
        "add_tags": ", ".join(macro.add_tags),
        "macro": macro.pk,
        "seen_message_id": _int_or_none(request.GET.get("seen_message_id")),
        "version": _int_or_none(request.GET.get("version")) or ticket.version,
    }
    if not partial:
        initial["seen_message_id"] = selectors.latest_public_message_id(ticket=ticket)
        return _render_page(request, ticket, reply_form=ReplyForm(initial=initial))
    if initial["seen_message_id"] is None:
        initial["seen_message_id"] = (
            ticket.messages.filter(public=True).order_by("-pk").values_list("pk", flat=True).first()
        )
    return render(
        request,
        f"{TEMPLATE}#composer_fields",
        {"ticket": ticket, "reply_form": ReplyForm(initial=initial)},
    )


def _int_or_none(value: str | None) -> int | None:
    try:
        return int(value) if value else None
    except ValueError:
        return None


# --- a new ticket ---------------------------------------------------------------------------


@role_required(*SUPPORT_STAFF)
@require_http_methods(["GET", "POST"])
def ticket_create(request: HttpRequest) -> HttpResponse:
    """An agent opens a ticket on a customer's behalf (a phone call, a chat)."""
    if request.method == "GET":
        form = TicketCreateForm()
        return render(request, "support/ticket_create.html", {"form": form})
    form = TicketCreateForm(request.POST, request.FILES)
    if form.is_valid():
        data = form.cleaned_data
        try:
            with transaction.atomic():
                contact = contact_get_or_create(
                    email=data["requester_email"], name=data["requester_name"]
                )
                ticket = services.ticket_create(
                    requester=contact,
                    subject=data["subject"],
                    body=data["body"],
                    channel=data["channel"],
                    priority=data["priority"],
                    type=data["type"],
                    team=data["team"],
                    attachments=data["attachments"],
                    acting_user=request.user,
                )
        except ValidationError as error:
            add_service_errors(form, error)
        else:
            messages.success(request, f"Ticket #{ticket.pk} opened for {contact.name}.")
            return _back_to(ticket.pk)
    return render(request, "support/ticket_create.html", {"form": form}, status=400)


# --- attachments ----------------------------------------------------------------------------


@role_required(*SUPPORT_STAFF)
@require_safe
def attachment_download(request: HttpRequest, pk: int) -> FileResponse:
    """The file as a download, never rendered inline: whatever a customer sent (HTML, SVG)
    cannot run in our origin."""
    attachment = get_object_or_404(Attachment, pk=pk)
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
