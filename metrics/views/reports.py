"""The managers' reports: support, success and alignment.

Each view reads its filters from the query string (metrics.forms.ReportFilterForm), checks
whose numbers the viewer may see, calls one selector and renders the page, or, with
`?format=csv&chart=<name>`, the numbers of one chart as CSV (the same `Chart` the page
draws). Bad filters are a 400 page that says what is wrong; someone else's numbers a 403.

Who sees what: managers and admins every report and every subject; support agents the
support report of themselves or one of their teams; CSMs the success report of their own
portfolio, and the support numbers kept per portfolio (tickets created, CSAT); customers
nothing.
"""

from __future__ import annotations

from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.utils.cache import patch_vary_headers

from accounts.choices import Role
from accounts.permissions import MANAGERS, STAFF, SUCCESS_STAFF, role_required

from ..forms import ReportFilterForm
from ..selectors import account_overview
from ..selectors import reports as selectors
from ..selectors.reports import Period, Subject

# The subject filters each role may use, per report.
_SUPPORT_FIELDS = {
    Role.ADMIN: ("team", "agent", "channel", "tier"),
    Role.MANAGER: ("team", "agent", "channel", "tier"),
    Role.AGENT: ("team", "agent"),
    Role.CSM: ("csm",),
}
_SUCCESS_FIELDS = {
    Role.ADMIN: ("csm", "tier"),
    Role.MANAGER: ("csm", "tier"),
    Role.CSM: ("csm",),
}


class _BadFilters(Exception):
    def __init__(self, form: ReportFilterForm):
        self.form = form


def _filters(request: HttpRequest, fields: tuple[str, ...]) -> ReportFilterForm:
    """The validated filters; a subject filter the viewer's role does not offer is a 403
    (an agent asking for a channel's numbers asks for the whole company's)."""
    offered = set(ReportFilterForm.SUBJECT_FIELDS) - set(fields)
    if any(request.GET.get(name) for name in offered):
        raise PermissionDenied("Your role does not give access to these numbers.")
    form = ReportFilterForm(request.GET, subjects=fields, today=timezone.localdate())
    if not form.is_valid():
        raise _BadFilters(form)
    return form


def _subject(form: ReportFilterForm, viewer) -> Subject:
    """The subject asked for, defaulted and limited by the viewer's role."""
    field = form.cleaned_data["subject_field"]
    value = form.cleaned_data.get(field) if field else None
    if viewer.role == Role.AGENT:
        if not field:
            field, value = "agent", viewer.pk
        if field == "agent" and value != viewer.pk:
            raise PermissionDenied("Agents see their own numbers and their teams'.")
        if field == "team" and not viewer.teams.filter(pk=value).exists():
            raise PermissionDenied("Agents see their own numbers and their teams'.")
    elif viewer.role == Role.CSM:
        if not field:
            field, value = "csm", viewer.pk
        if value != viewer.pk:
            raise PermissionDenied("CSMs see their own portfolio's numbers.")
    try:
        return selectors.subject_for(field, value)
    except LookupError as error:
        raise Http404(str(error)) from None


def _period(form: ReportFilterForm) -> Period:
    data = form.cleaned_data
    return Period(data["from"], data["to"], data["grain"])


def _bad_request(request: HttpRequest, form: ReportFilterForm, title: str, fields):
    """The filters again, with what is wrong said at the top: nothing typed is lost."""
    context = {
        "form": form,
        "errors": form.messages(),
        "title": title,
        "fields": fields,
        "options": selectors.report_options(viewer=request.user, fields=fields),
    }
    return render(request, "metrics/report_error.html", context, status=400)


def _csv(request: HttpRequest, report: selectors.Report, slug: str) -> HttpResponse:
    name = request.GET.get("chart", "")
    chart = report.charts.get(name)
    if chart is None:
        known = ", ".join(sorted(report.charts))
        return HttpResponse(
            f"Unknown chart {name!r}: choose one of {known}.\n",
            status=400,
            content_type="text/plain; charset=utf-8",
        )
    response = HttpResponse(chart.to_csv(), content_type="text/csv; charset=utf-8")
    period = report.period
    response["Content-Disposition"] = (
        f'attachment; filename="{slug}-{name}-{period.start:%Y%m%d}-{period.end:%Y%m%d}.csv"'
    )
    return response


def _render(request: HttpRequest, template: str, context: dict) -> HttpResponse:
    """The page; for htmx (the filter form), only its report part."""
    query = request.GET.copy()
    for key in ("format", "chart"):
        query.pop(key, None)
    context["query"] = query.urlencode()
    if request.htmx and not request.htmx.boosted and not request.htmx.history_restore_request:
        template = f"{template}#report"
    response = render(request, template, context)
    patch_vary_headers(response, ["HX-Request"])
    return response


def _run(request: HttpRequest, *, slug: str, title: str, fields, build) -> HttpResponse:
    template = f"metrics/report_{slug}.html"
    try:
        form = _filters(request, fields)
    except _BadFilters as bad:
        return _bad_request(request, bad.form, title, fields)
    subject = _subject(form, request.user)
    period = _period(form)
    report = build(subject, period)
    if request.GET.get("format") == "csv":
        return _csv(request, report, slug)
    if request.GET.get("format") not in (None, "", "html"):
        return HttpResponse(
            "Unknown format: use format=csv with chart=<name>, or leave it out.\n",
            status=400,
            content_type="text/plain; charset=utf-8",
        )
    context = {
        "title": title,
        "form": form,
        "report": report,
        "options": selectors.report_options(viewer=request.user, fields=fields),
        "fields": fields,
        "today": timezone.localdate(),
        "backfill_from": period.start.isoformat(),
    }
    return _render(request, template, context)


@role_required(*MANAGERS)
def reports(request: HttpRequest) -> HttpResponse:
    """The landing page: links to the three reports, and the accounts as they are today."""
    return render(request, "metrics/reports.html", {"overview": account_overview()})


@role_required(*STAFF)
def support_report(request: HttpRequest) -> HttpResponse:
    fields = _SUPPORT_FIELDS.get(request.user.role)
    if fields is None:  # pragma: no cover - STAFF are the keys
        raise PermissionDenied
    return _run(
        request,
        slug="support",
        title="Support report",
        fields=fields,
        build=lambda subject, period: selectors.support_report(subject=subject, period=period),
    )


@role_required(*SUCCESS_STAFF)
def success_report(request: HttpRequest) -> HttpResponse:
    today = timezone.localdate()
    return _run(
        request,
        slug="success",
        title="Success report",
        fields=_SUCCESS_FIELDS[request.user.role],
        build=lambda subject, period: selectors.success_report(
            subject=subject, period=period, today=today
        ),
    )


@role_required(*MANAGERS)
def alignment_report(request: HttpRequest) -> HttpResponse:
    today = timezone.localdate()
    return _run(
        request,
        slug="alignment",
        title="Alignment report",
        fields=(),
        build=lambda subject, period: selectors.alignment_report(period=period, today=today),
    )


__all__ = ["alignment_report", "reports", "success_report", "support_report"]
