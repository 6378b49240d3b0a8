"""The success team's pages: the CSM home (panels and the portfolio table) and Account 360
with its forms.

Views validate, call a selector or service, and render. htmx requests get a partial of the
same template: the portfolio table (`home.html#portfolio-rows`), or the section of the
account page a form changed (`account_detail.html#header`, `#plans`, `#touchpoints`). A
refused form comes back in its section with what was typed kept: 400 for input the person
can fix, 409 when someone else changed the milestone first. Without htmx, a successful form
redirects back to the page with a message.
"""

import datetime
from dataclasses import dataclass
from functools import partial

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django.forms import Form
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, QueryDict
from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.utils import timezone
from django.utils.cache import patch_vary_headers
from django.utils.text import capfirst
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_POST, require_safe

from accounts.choices import LifecycleStage, Role
from accounts.models import Account, User
from accounts.permissions import SUCCESS_STAFF, role_required

from . import selectors, services
from .choices import MilestoneStatus
from .filters import (
    PORTFOLIO_FILTER_NAMES,
    PORTFOLIO_SORT_LABELS,
    PORTFOLIO_SORTS,
    PortfolioFilter,
)
from .forms import (
    HealthOverrideForm,
    LifecycleStageForm,
    MilestoneForm,
    MilestoneStatusForm,
    NpsSurveyForm,
    ObjectiveForm,
    PlanFromTemplateForm,
    TouchpointForm,
    add_service_errors,
)
from .models import PlanMilestone, SuccessPlan
from .plans import PlanProgress, check_in_cadence_days, check_in_overdue_before, plan_progress
from .selectors import (
    ACCOUNT_RECENT_LIMIT,
    PANEL_LIMIT,
    PORTFOLIO_LIMIT,
    TASKS_AHEAD_DAYS,
    account_active_health_override,
    account_contacts,
    account_health_context,
    account_recent_touchpoints,
    account_revenue_events,
    account_subscriptions,
    account_success_plans,
    accounts_with_overdue_check_in,
    milestone_owners,
    milestones_due_this_week,
    plan_templates,
    portfolio,
    portfolio_rows,
    renewals_due,
)

HOME_TEMPLATE = "success/home.html"
ACCOUNT_TEMPLATE = "success/account_detail.html"
# The override form's expiry when nothing was typed yet: a month is the usual call.
OVERRIDE_DEFAULT_DAYS = 30


def _partial_request(request: HttpRequest) -> bool:
    return (
        bool(request.htmx) and not request.htmx.boosted and not request.htmx.history_restore_request
    )


def _today(request: HttpRequest) -> datetime.date:
    return timezone.localdate(timezone=request.user.zone)


# --- the CSM home -------------------------------------------------------------------------


@require_safe
@role_required(*SUCCESS_STAFF)
def home(request: HttpRequest) -> HttpResponse:
    today = _today(request)
    context, status = _portfolio_context(request, today)
    if _partial_request(request):
        response = render(request, f"{HOME_TEMPLATE}#portfolio-rows", context, status=status)
        patch_vary_headers(response, ["HX-Request"])
        return response
    # The panels are a CSM's own work; managers and admins see the whole portfolio instead.
    if request.user.role == Role.CSM:
        tasks, tasks_more = _first(milestones_due_this_week(csm=request.user, today=today))
        renewals, renewals_more = _first(renewals_due(csm=request.user, today=today))
        check_ins, check_ins_more = _first(
            accounts_with_overdue_check_in(csm=request.user, today=today)
        )
        context |= {
            "panels": True,
            "today": today,
            "week_end": today + datetime.timedelta(days=TASKS_AHEAD_DAYS),
            "panel_limit": PANEL_LIMIT,
            "tasks": tasks,
            "tasks_more": tasks_more,
            "renewals": renewals,
            "renewals_more": renewals_more,
            "check_ins": check_ins,
            "check_ins_more": check_ins_more,
        }
    response = render(request, HOME_TEMPLATE, context, status=status)
    patch_vary_headers(response, ["HX-Request"])
    return response


def _portfolio_context(request: HttpRequest, today: datetime.date) -> tuple[dict, int]:
    """The portfolio table for the query string's filters and sort, and the status code:
    400 with the reasons in `errors` when a parameter is wrong."""
    params = request.GET
    filterset = PortfolioFilter(params, queryset=portfolio_rows(viewer=request.user, today=today))
    errors: list[str] = []
    if filterset.is_valid():
        accounts, truncated = _first(filterset.qs, PORTFOLIO_LIMIT)
    else:
        accounts, truncated = [], False
        fields = filterset.form.fields
        for name, field_errors in filterset.errors.items():
            label = capfirst(str(fields[name].label)) if name in fields else ""
            errors.extend(f"{label}: {message}" if label else message for message in field_errors)
    sort = "" if "sort" in filterset.errors else params.get("sort", "")
    context = {
        "accounts": accounts,
        "truncated": truncated,
        "limit": PORTFOLIO_LIMIT,
        "errors": errors,
        "filtered": any(params.get(name, "").strip() for name in PORTFOLIO_FILTER_NAMES),
        "search": params.get("q", ""),
        "sort": sort,
        "sort_label": _sort_label(sort),
        "columns": _sort_columns(params, sort),
        "bar_filters": _bar_filters(filterset, params),
    }
    return context, 400 if errors else 200


def _sort_label(sort: str) -> str:
    key = sort.lstrip("-")
    if key not in PORTFOLIO_SORT_LABELS:
        return ""
    direction = "high to low" if sort.startswith("-") else "low to high"
    if key in {"name"}:
        direction = "Z to A" if sort.startswith("-") else "A to Z"
    elif key in {"renewal", "last_touch"}:
        direction = "latest first" if sort.startswith("-") else "earliest first"
    return f"{PORTFOLIO_SORT_LABELS[key]}, {direction}"


def _sort_columns(params: QueryDict, sort: str) -> dict[str, dict]:
    """Per sortable column: its direction now ("ascending", "descending" or "none", as
    aria-sort says it) and the query string that sorts by it (the other way round when it
    is the sort now), keeping the filters."""
    columns = {}
    for key in PORTFOLIO_SORTS:
        direction = {key: "ascending", f"-{key}": "descending"}.get(sort, "none")
        query = params.copy()
        query["sort"] = f"-{key}" if direction == "ascending" else key
        kept = QueryDict(mutable=True)
        for name in query:
            values = [value for value in query.getlist(name) if value.strip()]
            if values:
                kept.setlist(name, values)
        columns[key] = {"direction": direction, "query": kept.urlencode()}
    return columns


def _bar_filters(filterset: PortfolioFilter, params: QueryDict) -> list[dict]:
    """The choice filters of the bar with what is ticked, kept even when not valid."""
    bar = []
    for name in ("band", "tier", "stage"):
        field = filterset.form.fields[name]
        ticked = set(params.getlist(name))
        bar.append(
            {
                "name": name,
                "label": field.label,
                "options": [(value, label, value in ticked) for value, label in field.choices],
                "count": sum(1 for value, _label in field.choices if value in ticked),
                "invalid": name in filterset.errors,
            }
        )
    return bar


def _first(queryset: QuerySet, limit: int = PANEL_LIMIT) -> tuple[list, bool]:
    """Up to `limit` rows, and whether there were more: one query."""
    rows = list(queryset[: limit + 1])
    return rows[:limit], len(rows) > limit


# --- Account 360 --------------------------------------------------------------------------


@dataclass
class PlanCard:
    """One success plan as the page shows it, with its two add forms."""

    plan: SuccessPlan
    progress: PlanProgress
    milestones: list[PlanMilestone]  # to do and done; skipped ones are only counted
    skipped: int
    objective_form: ObjectiveForm
    milestone_form: MilestoneForm


@require_safe
@role_required(*SUCCESS_STAFF)
def account_detail(request: HttpRequest, account_id: int) -> HttpResponse:
    """Account 360: everything success knows of one account. Whoever may see the account in
    their portfolio may open it (a CSM their own, managers and admins any); others get 404."""
    return _account_page(request, _account(request, account_id))


def _account(request: HttpRequest, account_id: int) -> Account:
    return get_object_or_404(portfolio(viewer=request.user), pk=account_id)


def _account_page(request: HttpRequest, account: Account, status: int = 200, **forms):
    today = _today(request)
    contacts = list(account_contacts(account=account))
    context = {
        "account": account,
        "today": today,
        **_header_context(request, account, **_pick(forms, "override_form", "lifecycle_form")),
        **_plans_context(request, account, **_pick(forms, "plan_form", "bound")),
        **_touchpoints_context(
            request, account, contacts=contacts, **_pick(forms, "touchpoint_form")
        ),
        "subscriptions": list(account_subscriptions(account=account)),
        "revenue_events": list(account_revenue_events(account=account)[:ACCOUNT_RECENT_LIMIT]),
        "contacts": contacts,
        "recent_limit": ACCOUNT_RECENT_LIMIT,
    }
    # Health breakdown and trend, usage and NPS (reusing the override the header loaded).
    context |= account_health_context(account=account, today=today, override=context["override"])
    return render(request, ACCOUNT_TEMPLATE, context, status=status)


def _pick(values: dict, *names: str) -> dict:
    return {name: values[name] for name in names if name in values}


def _header_context(
    request: HttpRequest,
    account: Account,
    *,
    override_form: HealthOverrideForm | None = None,
    lifecycle_form: LifecycleStageForm | None = None,
) -> dict:
    today = _today(request)
    return {
        "account": account,
        "today": today,
        "override": account_active_health_override(account=account),
        "override_form": override_form
        or HealthOverrideForm(
            prefix="override",
            initial={
                "band": account.health_band or None,
                "expires_on": today + datetime.timedelta(days=OVERRIDE_DEFAULT_DAYS),
            },
        ),
        "lifecycle_form": lifecycle_form
        or LifecycleStageForm(prefix="lifecycle", initial={"to_stage": account.lifecycle_stage}),
    }


def _plans_context(
    request: HttpRequest,
    account: Account,
    *,
    plan_form: PlanFromTemplateForm | None = None,
    bound: tuple[int, Form] | None = None,
    undo: dict | None = None,
) -> dict:
    """The plans section. `bound` is (plan id, form) for an objective or milestone form
    refused for that plan, shown in place of the blank one."""
    today = _today(request)
    owners = list(milestone_owners())
    cards = []
    for plan in account_success_plans(account=account):
        milestones = list(plan.milestones.all())
        objective_form = ObjectiveForm(prefix=f"objective-{plan.pk}")
        milestone_form = MilestoneForm(prefix=f"milestone-{plan.pk}", owners=owners)
        if bound and bound[0] == plan.pk:
            if isinstance(bound[1], ObjectiveForm):
                objective_form = bound[1]
            else:
                milestone_form = bound[1]
        cards.append(
            PlanCard(
                plan=plan,
                progress=plan_progress(milestones, today),
                milestones=[m for m in milestones if m.status != MilestoneStatus.SKIPPED],
                skipped=sum(1 for m in milestones if m.status == MilestoneStatus.SKIPPED),
                objective_form=objective_form,
                milestone_form=milestone_form,
            )
        )
    return {
        "account": account,
        "today": today,
        "plans": cards,
        "plan_form": plan_form
        or PlanFromTemplateForm(
            prefix="plan",
            templates=list(plan_templates()),
            owners=owners,
            today=today,
            initial={"start_date": today, "owner": account.csm_id},
        ),
        "milestone_statuses": MilestoneStatus.choices,
        "undo": undo,
    }


def _touchpoints_context(
    request: HttpRequest,
    account: Account,
    *,
    contacts: list | None = None,
    touchpoint_form: TouchpointForm | None = None,
) -> dict:
    today = _today(request)
    if contacts is None:
        contacts = list(account_contacts(account=account))
    touchpoints = list(account_recent_touchpoints(account=account)[:ACCOUNT_RECENT_LIMIT])
    last_touchpoint_at = touchpoints[0].happened_at if touchpoints else None
    now = timezone.localtime(timezone=request.user.zone).replace(second=0, microsecond=0)
    return {
        "account": account,
        "touchpoints": touchpoints,
        "last_touchpoint_at": last_touchpoint_at,
        "cadence_days": check_in_cadence_days(account.tier),
        # Same rule as the home page's overdue check-ins: churned accounts are never due.
        "check_in_overdue": account.lifecycle_stage != LifecycleStage.CHURNED
        and (
            last_touchpoint_at is None
            or timezone.localdate(last_touchpoint_at) < check_in_overdue_before(account.tier, today)
        ),
        "recent_limit": ACCOUNT_RECENT_LIMIT,
        "touchpoint_form": touchpoint_form
        or TouchpointForm(
            prefix="touchpoint",
            contacts=contacts,
            zone=request.user.zone,
            initial={"happened_at": now.replace(tzinfo=None)},
        ),
    }


_SECTIONS = {
    "header": _header_context,
    "plans": _plans_context,
    "touchpoints": _touchpoints_context,
}
_ANCHORS = {"header": "account-header", "plans": "plans", "touchpoints": "touchpoints"}


def _answer(
    request: HttpRequest,
    account: Account,
    section: str,
    *,
    status: int = 200,
    notice: str = "",
    **section_context,
) -> HttpResponse:
    """The changed section for htmx; otherwise, after a success, back to the page with a
    message, and after a refusal the whole page with the refused form."""
    if _partial_request(request):
        context = _SECTIONS[section](request, account, **section_context)
        if section == "header" and status < 400:
            # The override shows in the health section as well: send it along, fresh.
            context |= account_health_context(
                account=account, today=context["today"], override=context["override"]
            )
            context["refresh_health"] = True
        if notice:
            context[f"{section}_notice"] = notice
            context[f"{section}_notice_level"] = "warning" if status >= 400 else "success"
        return render(request, f"{ACCOUNT_TEMPLATE}#{section}", context, status=status)
    if status < 400:
        messages.success(request, notice or "Saved.")
        url = reverse("success:account-detail", args=[account.pk])
        return HttpResponseRedirect(f"{url}#{_ANCHORS[section]}")
    if notice:
        messages.warning(request, notice)
    return _account_page(request, account, status=status, **section_context)


def _top_errors(form: Form) -> str:
    """Errors of the form as a whole (a closed plan), shown at the top of the section: the
    form itself is not shown for a plan that is no longer active."""
    return " ".join(form.non_field_errors())


def _user(request: HttpRequest) -> User:
    return request.user


# Success plans


@require_POST
@role_required(*SUCCESS_STAFF)
def plan_create(request: HttpRequest, account_id: int) -> HttpResponse:
    account = _account(request, account_id)
    form = PlanFromTemplateForm(
        request.POST,
        prefix="plan",
        templates=list(plan_templates()),
        owners=list(milestone_owners()),
        today=_today(request),
    )
    if form.is_valid():
        try:
            plan = services.plan_apply_template(
                account=account,
                template=form.cleaned_data["template"],
                start_date=form.cleaned_data["start_date"],
                owner=form.cleaned_data["owner"],
                acting_user=_user(request),
            )
        except ValidationError as error:
            add_service_errors(form, error)
        else:
            return _answer(request, account, "plans", notice=f"Plan “{plan.title}” started.")
    return _answer(request, account, "plans", status=400, plan_form=form)


@require_POST
@role_required(*SUCCESS_STAFF)
def objective_create(request: HttpRequest, account_id: int, plan_id: int) -> HttpResponse:
    return _plan_part_create(
        request, account_id, plan_id, ObjectiveForm, "objective", services.objective_add
    )


@require_POST
@role_required(*SUCCESS_STAFF)
def milestone_create(request: HttpRequest, account_id: int, plan_id: int) -> HttpResponse:
    return _plan_part_create(
        request,
        account_id,
        plan_id,
        partial(MilestoneForm, owners=milestone_owners()),
        "milestone",
        services.milestone_add,
    )


def _plan_part_create(request, account_id, plan_id, form_class, noun, service) -> HttpResponse:
    """Add an objective or a milestone to one of the account's plans: the plans section
    again, with the new row or with the form's errors and what was typed."""
    account = _account(request, account_id)
    plan = get_object_or_404(SuccessPlan, pk=plan_id, account=account)
    form = form_class(request.POST, prefix=f"{noun}-{plan.pk}")
    if form.is_valid():
        try:
            service(plan=plan, acting_user=_user(request), **form.cleaned_data)
        except ValidationError as error:
            add_service_errors(form, error)
        else:
            notice = f"{noun.capitalize()} added to {plan.title}."
            return _answer(request, account, "plans", notice=notice)
    return _answer(
        request, account, "plans", status=400, bound=(plan.pk, form), notice=_top_errors(form)
    )


@require_POST
@role_required(*SUCCESS_STAFF)
def milestone_status(request: HttpRequest, account_id: int, milestone_id: int) -> HttpResponse:
    account = _account(request, account_id)
    milestone = get_object_or_404(
        PlanMilestone.objects.select_related("plan"), pk=milestone_id, plan__account=account
    )
    form = MilestoneStatusForm(request.POST)
    if not form.is_valid():
        message = " ".join(str(e) for errors in form.errors.values() for e in errors)
        return _answer(request, account, "plans", status=400, notice=message)
    before = milestone.status
    status = form.cleaned_data["status"]
    try:
        services.milestone_set_status(
            milestone=milestone,
            status=status,
            expected_status=form.cleaned_data["expected_status"] or None,
            acting_user=_user(request),
        )
    except services.StaleMilestone as error:
        return _answer(request, account, "plans", status=409, notice=str(error))
    except ValidationError as error:
        return _answer(request, account, "plans", status=400, notice=" ".join(error.messages))
    label = MilestoneStatus(status).label.lower()
    undo = None
    if before != status:
        undo = {"milestone": milestone, "status": before, "expected_status": status}
    return _answer(
        request,
        account,
        "plans",
        notice=f"“{milestone.title}” set to {label}.",
        **({"undo": undo} if _partial_request(request) else {}),
    )


# Touchpoints


@require_POST
@role_required(*SUCCESS_STAFF)
def touchpoint_create(request: HttpRequest, account_id: int) -> HttpResponse:
    account = _account(request, account_id)
    form = TouchpointForm(
        request.POST,
        prefix="touchpoint",
        contacts=list(account_contacts(account=account)),
        zone=request.user.zone,
    )
    if form.is_valid():
        try:
            services.touchpoint_log(
                account=account, acting_user=_user(request), **form.cleaned_data
            )
        except ValidationError as error:
            add_service_errors(form, error)
        else:
            return _answer(request, account, "touchpoints", notice="Touchpoint logged.")
    return _answer(request, account, "touchpoints", status=400, touchpoint_form=form)


# Health override and lifecycle stage (the page header)


@require_POST
@role_required(*SUCCESS_STAFF)
def health_override_set(request: HttpRequest, account_id: int) -> HttpResponse:
    account = _account(request, account_id)
    form = HealthOverrideForm(request.POST, prefix="override")
    if form.is_valid():
        try:
            override = services.health_override_set(
                account=account, acting_user=_user(request), **form.cleaned_data
            )
        except ValidationError as error:
            add_service_errors(form, error)
        else:
            until = override.expires_on
            notice = f"Health set to {override.get_band_display()} until {until.day} {until:%b %Y}."
            return _answer(request, account, "header", notice=notice)
    return _answer(request, account, "header", status=400, override_form=form)


@require_POST
@role_required(*SUCCESS_STAFF)
def health_override_clear(request: HttpRequest, account_id: int) -> HttpResponse:
    account = _account(request, account_id)
    cleared = services.health_override_clear(account=account, acting_user=_user(request))
    notice = (
        "Override cleared: the computed health band applies again."
        if cleared
        else "There was no override to clear."
    )
    return _answer(request, account, "header", notice=notice)


@require_POST
@role_required(*SUCCESS_STAFF)
def lifecycle_stage_change(request: HttpRequest, account_id: int) -> HttpResponse:
    account = _account(request, account_id)
    form = LifecycleStageForm(request.POST, prefix="lifecycle")
    if form.is_valid():
        try:
            change = services.account_lifecycle_change(
                account=account, acting_user=_user(request), **form.cleaned_data
            )
        except ValidationError as error:
            add_service_errors(form, error)
        else:
            stage = account.get_lifecycle_stage_display()
            notice = f"Moved to {stage}." if change else f"Already in {stage}; nothing changed."
            return _answer(request, account, "header", notice=notice)
    return _answer(request, account, "header", status=400, lifecycle_form=form)


# --- NPS survey (public: no login, reached by the signed link in the campaign email) -----


def _nps_link_problem(request: HttpRequest, *, expired: bool = False, missing: bool = False):
    """A survey link that cannot be used: expired 410, gone 404, altered 400."""
    status = 410 if expired else 404 if missing else 400
    context = {"expired": expired, "missing": missing, "days": settings.CX_SURVEY_LINK_MAX_AGE_DAYS}
    return render(request, "surveys/link_problem.html", context, status=status)


@never_cache
@require_http_methods(["GET", "HEAD", "POST"])
def nps_survey(request: HttpRequest, token: str) -> HttpResponse:
    try:
        invite_id = selectors.nps_link_read(token)
    except selectors.NpsLinkExpired:
        return _nps_link_problem(request, expired=True)
    except selectors.NpsLinkInvalid:
        return _nps_link_problem(request)
    invite = selectors.nps_survey_invite(invite_id=invite_id)
    if invite is None:
        return _nps_link_problem(request, missing=True)
    existing = selectors.nps_invite_response(invite=invite)
    status = 200
    if request.method == "POST":
        form = NpsSurveyForm(request.POST)
        if form.is_valid():
            try:
                response = services.nps_response_record(
                    invite=invite,
                    score=form.cleaned_data["score"],
                    reason=form.cleaned_data["reason"],
                )
            except services.NpsSurveyError:
                return _nps_link_problem(request, missing=True)
            context = {"invite": invite, "response": response, "replaced": existing is not None}
            return render(request, "success/surveys/nps.html", context)
        status = 400
    else:
        score = request.GET.get("score", "")
        if score.isdigit() and 0 <= int(score) <= 10:
            initial = {"score": int(score), "reason": existing.reason if existing else ""}
        elif existing:
            initial = {"score": existing.score, "reason": existing.reason}
        else:
            initial = {}
        form = NpsSurveyForm(initial=initial)
    context = {"invite": invite, "form": form, "existing": existing}
    return render(request, "success/surveys/nps.html", context, status=status)
