"""Escalation flags in the browser: the CSM home's panel and the Account 360's panel (both
lazy-loaded by those pages with htmx: success may not read metrics), a flag's own page with
its history, and the acknowledge / comment / resolve actions.

Who sees what: staff only (customers get 403). A flag is visible to whoever may see its
account (success.selectors.portfolio: a CSM their own accounts, everyone else any; support
agents too, as for the other 360 parts, since success → support flags are theirs); another
CSM's flag is a 404."""

from django import forms
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404, render
from django.utils.cache import patch_vary_headers
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST, require_safe

from accounts.permissions import STAFF, SUCCESS_STAFF, role_required
from success.selectors import portfolio

from ..selectors.escalations import (
    HOME_FLAGS_SHOWN,
    flag_detail,
    flags_for_account,
    flags_for_home,
)
from ..services.escalations import (
    NOTE_MAX_LENGTH,
    FlagError,
    escalation_flag_acknowledge,
    escalation_flag_comment,
    escalation_flag_resolve,
)

FLAG_TEMPLATE = "metrics/escalation_flag.html"


class FlagNoteForm(forms.Form):
    """The note under a flag: optional to acknowledge, the text of a comment, and required
    to resolve (the service says so; its message lands on this field)."""

    note = forms.CharField(
        required=False,
        max_length=NOTE_MAX_LENGTH,
        strip=True,
        widget=forms.Textarea(attrs={"rows": 2, "class": "form-control form-control-sm"}),
    )


def _is_htmx(request: HttpRequest) -> bool:
    return bool(
        request.htmx and not request.htmx.boosted and not request.htmx.history_restore_request
    )


def _render(request, template: str, partial: str, context: dict, status: int = 200):
    if _is_htmx(request):
        template = f"{template}#{partial}"
    response = render(request, template, context, status=status)
    patch_vary_headers(response, ["HX-Request"])
    return response


@require_safe
@role_required(*SUCCESS_STAFF)
def home_escalations(request: HttpRequest) -> HttpResponse:
    """The CSM home's "Escalations" panel: open support → success flags of my accounts."""
    flags = flags_for_home(viewer=request.user)
    context = {
        "flags": flags[:HOME_FLAGS_SHOWN],
        "more": len(flags) > HOME_FLAGS_SHOWN,
        "shown": HOME_FLAGS_SHOWN,
    }
    return _render(request, "metrics/escalations_home.html", "panel", context)


@require_safe
@role_required(*STAFF)
def account_escalations(request: HttpRequest, account_id: int) -> HttpResponse:
    """The Account 360's "Escalations" panel: unresolved flags with their actions, and the
    latest resolved ones."""
    account = get_object_or_404(portfolio(viewer=request.user), pk=account_id)
    unresolved, resolved = flags_for_account(account=account)
    context = {
        "account": account,
        "unresolved": unresolved,
        "resolved": resolved,
        "links_to_account": request.user.role in SUCCESS_STAFF,
    }
    return _render(request, "metrics/escalations_account.html", "panel", context)


@require_safe
@role_required(*STAFF)
def flag_page(request: HttpRequest, flag_id: int) -> HttpResponse:
    flag = _flag(request, flag_id)
    return render(request, "metrics/escalation_detail.html", _flag_context(request, flag))


def _flag(request: HttpRequest, flag_id: int):
    flag = flag_detail(flag_id=flag_id, accounts=portfolio(viewer=request.user))
    if flag is None:
        raise Http404("No such flag.")
    return flag


def _flag_context(request: HttpRequest, flag, form: FlagNoteForm | None = None, **extra) -> dict:
    return {
        "flag": flag,
        "account": flag.account,
        "form": form or FlagNoteForm(),
        "history": True,
        "links_to_account": request.user.role in SUCCESS_STAFF,
        **extra,
    }


def _act(request: HttpRequest, flag_id: int, service, done: str) -> HttpResponse:
    """Validate the note, call the service, and answer with the flag's card (htmx) or go
    back to where the person was; a refusal keeps what they typed, with the reason."""
    flag = _flag(request, flag_id)  # 404 for a flag the person may not see
    form = FlagNoteForm(request.POST)
    status, notice = 200, done
    if form.is_valid():
        try:
            service(flag_id=flag.pk, acting_user=request.user, note=form.cleaned_data["note"])
        except ValidationError as error:
            for message in error.message_dict.get("note", error.messages):
                form.add_error("note", message)
            status, notice = 400, ""
        except FlagError as error:
            status, notice = 409, str(error)
    else:
        status, notice = 400, ""
    if status == 200:
        form = FlagNoteForm()  # done: an empty note field for the next action
        if not _is_htmx(request):
            return HttpResponseRedirect(_back(request, flag))
    flag = _flag(request, flag_id)
    context = _flag_context(
        request,
        flag,
        form,
        notice=notice,
        notice_level="success" if status == 200 else "warning",
        history=request.POST.get("history") == "1",
    )
    if _is_htmx(request):
        response = render(request, f"{FLAG_TEMPLATE}#flag", context, status=status)
        patch_vary_headers(response, ["HX-Request"])
        return response
    context["history"] = True
    return render(request, "metrics/escalation_detail.html", context, status=status)


def _back(request: HttpRequest, flag) -> str:
    target = request.POST.get("next", "")
    if target and url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return target
    return flag.get_absolute_url()


@require_POST
@role_required(*STAFF)
def flag_acknowledge(request: HttpRequest, flag_id: int) -> HttpResponse:
    return _act(request, flag_id, escalation_flag_acknowledge, "Acknowledged.")


@require_POST
@role_required(*STAFF)
def flag_comment(request: HttpRequest, flag_id: int) -> HttpResponse:
    return _act(request, flag_id, escalation_flag_comment, "Comment added.")


@require_POST
@role_required(*STAFF)
def flag_resolve(request: HttpRequest, flag_id: int) -> HttpResponse:
    return _act(request, flag_id, escalation_flag_resolve, "Resolved.")
