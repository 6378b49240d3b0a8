"""The agent's ticket queue: built-in and saved views, filters, search, bulk changes.

One template (`support/queue.html`) serves the full page and, for htmx requests, its
`refresh` partial: the rows plus out-of-band swaps of the tab counts, the status line and
the pager. Every list is read by `ticket_queue` (keyset pages, never OFFSET); every change
goes through `tickets_bulk_update` / `tickets_bulk_restore`.
"""

from __future__ import annotations

import secrets
from datetime import datetime

from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse, QueryDict
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.cache import patch_vary_headers
from django.utils.text import capfirst
from django.views.decorators.http import require_POST, require_safe
from django_htmx.http import reswap, retarget

from accounts.models import User
from accounts.permissions import SUPPORT_STAFF, role_required

from ..filters import TicketFilter
from ..forms import BulkActionForm, SavedViewForm, canonical_query
from ..models import SavedView
from ..selectors import (
    BUILTIN_VIEWS,
    DEFAULT_SORT,
    DEFAULT_VIEW,
    SORT_LABELS,
    BadCursor,
    queue_counts,
    queue_queryset,
    ticket_queue,
)
from ..services import BulkResult, TicketError, tickets_bulk_restore, tickets_bulk_update

TEMPLATE = "support/queue.html"
REFRESH_SECONDS = 20
UNDO_SESSION_KEY = "queue_bulk_undo"
TOAST_SESSION_KEY = "queue_toast"
UNDO_KEEP = 5  # undo records kept per session, newest last
# Filters shown in the filter bar; any other FilterSet parameter is carried as hidden input.
BAR_FILTERS = ("status", "priority", "type", "assignee", "team", "tag", "channel", "tier")


# --- the page ---------------------------------------------------------------------------


@require_safe
@role_required(*SUPPORT_STAFF)
def queue(request: HttpRequest) -> HttpResponse:
    toast = request.session.pop(TOAST_SESSION_KEY, None)
    context, status = _queue_context(request, request.GET, toast=toast)
    return _render_queue(request, context, status)


def _render_queue(request: HttpRequest, context: dict, status: int) -> HttpResponse:
    if request.htmx and not request.htmx.boosted and not request.htmx.history_restore_request:
        response = render(request, f"{TEMPLATE}#refresh", {**context, "oob": True}, status=status)
    else:
        response = render(request, TEMPLATE, context, status=status)
    patch_vary_headers(response, ["HX-Request"])
    return response


def _queue_context(
    request: HttpRequest,
    params: QueryDict,
    *,
    bulk_form: BulkActionForm | None = None,
    save_form: SavedViewForm | None = None,
    toast: dict | None = None,
    selected: list[int] = (),
) -> tuple[dict, int]:
    """Everything the page shows for `params` (the queue's query string), and its status
    code: 400 when a parameter is wrong, with the reasons in `errors`."""
    user = request.user
    errors: list[str] = []
    search = params.get("q", "").strip()
    view_key = params.get("view") or (None if search else DEFAULT_VIEW)
    view = BUILTIN_VIEWS.get(view_key) if view_key else None
    if view_key and view is None:
        errors.append(f"There is no view called “{view_key}”; pick one of the tabs.")
    sort = params.get("sort") or DEFAULT_SORT
    if sort not in SORT_LABELS:
        errors.append(f"Cannot sort by “{sort}”; choose one of: {', '.join(SORT_LABELS.values())}.")
        sort = DEFAULT_SORT

    filterset = TicketFilter(params, queryset=queue_queryset())
    if not filterset.is_valid():
        fields = filterset.form.fields
        for name, messages in filterset.errors.items():
            label = capfirst(str(fields[name].label or name)) if name in fields else ""
            errors.extend(f"{label}: {message}" if label else message for message in messages)

    page = None
    if not errors:
        try:
            page = ticket_queue(
                viewer=user,
                view=view.key if view else None,
                filtered=filterset.qs,
                search=search,
                sort=sort,
                cursor=params.get("cursor") or None,
            )
        except BadCursor as exc:
            errors.append(str(exc))

    query = canonical_query(params)
    if view and "view" not in params:
        query = canonical_query(QueryDict(f"view={view.key}&{query}"))
    saved_views = list(SavedView.objects.filter(owner=user))
    active_saved = next(
        (saved for saved in saved_views if canonical_query(QueryDict(saved.query)) == query),
        None,
    )
    if active_saved:
        title = active_saved.name
    elif search:
        title = f"Search “{search}”"
    else:
        title = view.label if view else "Tickets"
    filtered = any(params.get(name) for name in TicketFilter.base_filters)
    counts = queue_counts(viewer=user)
    refreshed_at = _local_now(user)

    context = {
        "params": params,
        "query": query,
        "page": page,
        "rows": page.rows if page else [],
        "errors": errors,
        "view": view,
        "tabs": [
            {
                "view": tab,
                "count": counts[tab.key],
                "active": tab == view and active_saved is None and not search,
            }
            for tab in BUILTIN_VIEWS.values()
        ],
        "saved_views": saved_views,
        "active_saved": active_saved,
        "title": title,
        "search": search,
        "sort": page.sort if page else sort,
        "sort_labels": SORT_LABELS,
        "sort_label": SORT_LABELS.get(sort, ""),
        "bar_filters": _bar_filters(filterset, params),
        "hidden_filters": [
            (name, value)
            for name in TicketFilter.base_filters
            if name not in BAR_FILTERS
            for value in params.getlist(name)
            if value
        ],
        "filtered": filtered or bool(search),
        "cursor": params.get("cursor", ""),
        "query_here": params.urlencode(),
        "bulk_form": bulk_form or BulkActionForm(initial={"query": params.urlencode()}),
        "save_form": save_form or SavedViewForm(owner=user, initial={"query": query}),
        "selected": set(selected),
        "toast": toast,
        "refreshed_at": refreshed_at.isoformat(),
        "refreshed_label": refreshed_at.strftime("%H:%M:%S"),
        "refresh_seconds": REFRESH_SECONDS,
    }
    return context, 400 if errors else 200


def _bar_filters(filterset: TicketFilter, params: QueryDict) -> list[dict]:
    """The filter bar's fields, with what was typed kept even when it is not valid."""
    fields = []
    for name in BAR_FILTERS:
        field = filterset.form[name]
        typed = [value for value in params.getlist(name) if value.strip()]
        if name == "tag":
            fields.append({"field": field, "kind": "text", "label": "Tag"})
            continue
        if name in {"assignee", "team"}:
            fields.append(
                {
                    "field": field,
                    "kind": "select",
                    "label": name.capitalize(),
                    "invalid": typed[-1] if typed and field.errors else "",
                    # Compared with each choice's value as text (the template renders the
                    # options from the field's choices, not per-option widget templates).
                    "selected": typed[-1] if typed and not field.errors else "",
                    # Called by the template only when it renders the select; a comprehension,
                    # since list() would first ask the iterator for its length (a COUNT).
                    "choices": lambda field=field: [choice for choice in field.field.choices],
                }
            )
            continue
        labels = dict(field.field.choices)
        chosen = [str(labels[value]) for value in typed if value in labels]
        invalid = [value for value in typed if value not in labels]
        fields.append(
            {
                "field": field,
                "kind": "multi",
                "label": str(field.label),
                "invalid": invalid,
                "summary": ", ".join(chosen + [f"“{value}”" for value in invalid]) or "Any",
            }
        )
    return fields


def _local_now(user: User) -> datetime:
    return timezone.localtime(timezone.now(), user.zone)


# --- bulk changes -----------------------------------------------------------------------


@require_POST
@role_required(*SUPPORT_STAFF)
def bulk_update(request: HttpRequest) -> HttpResponse:
    """Apply one change to the ticked tickets; answer with a toast that can undo it."""
    form = BulkActionForm(request.POST)
    query = QueryDict(request.POST.get("query", "").lstrip("?")).urlencode()
    if not form.is_valid():
        return _bulk_refused(request, form, query, _form_messages(form))
    try:
        result = tickets_bulk_update(acting_user=request.user, **form.service_arguments())
    except (TicketError, ValidationError) as exc:
        return _bulk_refused(request, form, query, _error_messages(exc))

    toast = _bulk_toast(form, result)
    if result.changed:
        toast["undo_key"] = _remember_undo(request, result.previous, toast["text"])
    return _after_change(request, query, toast)


@require_POST
@role_required(*SUPPORT_STAFF)
def bulk_undo(request: HttpRequest) -> HttpResponse:
    """Put back what a bulk change replaced (the record is kept in the agent's session)."""
    key = request.POST.get("key", "")
    query = QueryDict(request.POST.get("query", "").lstrip("?")).urlencode()
    records = request.session.get(UNDO_SESSION_KEY, {})
    record = records.pop(key, None) if key else None
    if record is None:
        message = "That change can no longer be undone (it was undone already or is too old)."
        return _refused(request, query, [message])
    request.session[UNDO_SESSION_KEY] = records
    try:
        restored = tickets_bulk_restore(previous=record["previous"], acting_user=request.user)
    except (TicketError, ValidationError) as exc:
        return _refused(request, query, _error_messages(exc))
    toast = {
        "text": f"Undone: {restored} ticket{'s' if restored != 1 else ''} put back as "
        f"{'they were' if restored != 1 else 'it was'}",
        "level": "success",
    }
    left = len(record["previous"]) - restored
    if left:
        # Closed meanwhile (closed tickets cannot change), or already back as they were.
        toast["detail"] = (
            f"{left} ticket{'s were' if left != 1 else ' was'} left as "
            f"{'they are' if left != 1 else 'it is'}: closed since, or already as before."
        )
    return _after_change(request, query, toast)


def _bulk_toast(form: BulkActionForm, result: BulkResult) -> dict:
    """“12 tickets assigned to Alex”, with what was skipped or already so."""
    unchanged = len(form.cleaned_data["tickets"]) - len(result.changed) - len(result.skipped)
    details = []
    if result.skipped:
        numbers = ", ".join(f"#{pk}" for pk in sorted(result.skipped))
        count = len(result.skipped)
        details.append(
            f"Skipped {count} closed ticket{'s' if count != 1 else ''} "
            f"({numbers}): closed tickets cannot be changed."
        )
    if result.changed:
        text = form.describe(len(result.changed))
        if unchanged > 0:
            details.append(
                f"{unchanged} other ticket{'s' if unchanged != 1 else ''} already had these values."
            )
    elif unchanged > 0:
        text = "Nothing changed: the selected tickets already had these values."
    else:
        text = "Nothing changed."
    toast = {"text": text, "level": "success" if result.changed else "warning"}
    if details:
        toast["detail"] = " ".join(details)
    return toast


def _remember_undo(request: HttpRequest, previous: dict, summary: str) -> str:
    key = secrets.token_urlsafe(12)
    records = request.session.get(UNDO_SESSION_KEY, {})
    records[key] = {
        "previous": {str(pk): before for pk, before in previous.items()},
        "summary": summary,
    }
    while len(records) > UNDO_KEEP:
        records.pop(next(iter(records)))
    request.session[UNDO_SESSION_KEY] = records
    return key


def _after_change(request: HttpRequest, query: str, toast: dict) -> HttpResponse:
    """htmx: the refreshed rows with the toast; otherwise back to the same list."""
    if request.htmx:
        context, status = _queue_context(request, QueryDict(query), toast=toast)
        return _render_queue(request, context, status)
    request.session[TOAST_SESSION_KEY] = toast
    return redirect(_queue_url(query))


def _bulk_refused(
    request: HttpRequest, form: BulkActionForm, query: str, messages: list[str]
) -> HttpResponse:
    if request.htmx:
        return _refused(request, query, messages)
    selected = [n for n in _numbers(request.POST.getlist("tickets"))]
    context, _ = _queue_context(request, QueryDict(query), bulk_form=form, selected=selected)
    context["bulk_errors"] = messages
    return render(request, TEMPLATE, context, status=400)


def _refused(request: HttpRequest, query: str, messages: list[str]) -> HttpResponse:
    """400 with the reasons: for htmx a toast (the rows stay as they are), else the page."""
    if request.htmx:
        response = render(
            request,
            f"{TEMPLATE}#toast",
            {"toast": {"text": " ".join(messages), "level": "danger"}},
            status=400,
        )
        return reswap(retarget(response, "#queue-toasts"), "innerHTML")
    context, _ = _queue_context(request, QueryDict(query))
    context["bulk_errors"] = messages
    return render(request, TEMPLATE, context, status=400)


def _form_messages(form) -> list[str]:
    messages = list(form.non_field_errors())
    for name, errors in form.errors.items():
        if name == "__all__":
            continue
        label = form.fields[name].label if name in form.fields else name
        messages.extend(f"{label}: {error}" if name != "tickets" else error for error in errors)
    return messages


def _error_messages(exc: Exception) -> list[str]:
    if isinstance(exc, ValidationError):
        return list(exc.messages)
    return [str(exc)]


def _numbers(values: list[str]) -> list[int]:
    return [int(value) for value in values if value.isdigit()]


def _queue_url(query: str) -> str:
    url = reverse("support:queue")
    return f"{url}?{query}" if query else url


# --- saved views ------------------------------------------------------------------------


@require_POST
@role_required(*SUPPORT_STAFF)
def saved_view_create(request: HttpRequest) -> HttpResponse:
    form = SavedViewForm(request.POST, owner=request.user)
    if not form.is_valid():
        query = QueryDict(request.POST.get("query", "").lstrip("?"))
        context, _ = _queue_context(request, query, save_form=form)
        context["save_open"] = True
        return render(request, TEMPLATE, context, status=400)
    saved = form.save()
    request.session[TOAST_SESSION_KEY] = {
        "text": f"Saved the view “{saved.name}”. It is now one of your tabs.",
        "level": "success",
    }
    return redirect(_queue_url(saved.query))


@require_POST
@role_required(*SUPPORT_STAFF)
def saved_view_delete(request: HttpRequest, pk: int) -> HttpResponse:
    saved = get_object_or_404(SavedView, pk=pk, owner=request.user)
    saved.delete()
    request.session[TOAST_SESSION_KEY] = {
        "text": f"Deleted the view “{saved.name}”.",
        "level": "success",
    }
    return redirect("support:queue")
