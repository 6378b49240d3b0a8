"""`GET /api/v1/metrics/{name}/?from=YYYY-MM-DD&to=YYYY-MM-DD`: one metric over a period
[from, to), for the company or one subject (`account`, `team`, `agent`, `tier`, `csm`).

One implementation behind the reports and this API: snapshot metrics are pooled by
`metrics.selectors.reports.snapshot_results` and shown with its `display` rounding (the
reports' cards), retention metrics come from `metrics.selectors.reports.retention` (the
success report's retention section); the period is checked by the reports' own form.

Who sees what, as in the reports (metrics/views/reports.py): admins and managers every
metric of every subject; support agents the support metrics of themselves (the default) or
one of their teams; CSMs their own portfolio's numbers (the default) or one of its accounts
(another account is a 404, as if it did not exist); customers nothing.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.exceptions import NotFound, PermissionDenied, ValidationError
from rest_framework.response import Response

from accounts.api.viewsets import ApiView
from accounts.choices import Role
from accounts.models import Account, ApiScope
from accounts.permissions import STAFF

from .. import catalogue, formulas
from ..catalogue import Unit
from ..forms import ReportFilterForm
from ..models import SubjectKind
from ..selectors import reports as selectors
from ..selectors.reports import Period, Subject


@dataclass(frozen=True)
class ApiMetric:
    """An API metric name: the snapshot metric(s) behind it, or a retention figure."""

    snapshot: str = ""  # the catalogue metric (business time for durations)
    snapshot_calendar: str = ""  # durations: the calendar-time one
    retention: str = ""  # a field of selectors.reports.Retention
    unit: str = ""
    definition: str = ""
    support: bool = True  # a support metric (agents may read it)


RETENTION_DEFINITIONS = {
    "logo_retention": "Customers active at the start of the period and still active at its "
    "end, over customers active at the start (new logos are outside the cohort).",
    "logo_churn": "Customers active at the start of the period who are no longer active at "
    "its end, over customers active at the start.",
    "grr": "100 * (starting MRR - contraction - churned MRR) / starting MRR, for customers "
    "active at the start; never above 100.",
    "nrr": "100 * (starting MRR + expansion - contraction - churned MRR) / starting MRR, "
    "for customers active at the start; new-logo MRR is excluded.",
    "expansion": "Sum of the period's expansion events of customers active at its start, in MRR.",
}

METRICS: dict[str, ApiMetric] = {
    "nps": ApiMetric(snapshot="nps", support=False),
    "csat": ApiMetric(snapshot="csat"),
    "ces": ApiMetric(snapshot="ces"),
    "first_response_time": ApiMetric(
        snapshot="first_response_time", snapshot_calendar="first_response_time_calendar"
    ),
    "resolution_time": ApiMetric(
        snapshot="resolution_time", snapshot_calendar="resolution_time_calendar"
    ),
    "sla_compliance": ApiMetric(snapshot="sla_tickets"),
    "fcr": ApiMetric(snapshot="fcr"),
    "reopen_rate": ApiMetric(snapshot="reopen_rate"),
    "backlog": ApiMetric(snapshot="backlog"),
    "license_utilization": ApiMetric(snapshot="licence_utilisation", support=False),
    **{
        name: ApiMetric(
            retention=field,
            unit="money" if name == "expansion" else "percent",
            definition=RETENTION_DEFINITIONS[name],
            support=False,
        )
        for name, field in (
            ("logo_retention", "logo_retention"),
            ("logo_churn", "logo_churn"),
            ("grr", "grr"),
            ("nrr", "nrr"),
            ("expansion", "expansion_revenue"),
        )
    },
}
# `sla_compliance` may name its SLA target; tickets (every target met) by default.
SLA_TARGETS = {
    "tickets": "sla_tickets",
    "first_response": "sla_first_response",
    "resolution": "sla_resolution",
}
UNITS = {
    Unit.PERCENT: "percent",
    Unit.DURATION: "hours",
    Unit.COUNT: "count",
    Unit.SCORE: "score",
    Unit.MONEY: "money",
}
SUBJECT_PARAMS = ("account", "team", "agent", "csm", "tier")
KNOWN_PARAMS = frozenset({"from", "to", "calendar", "target", *SUBJECT_PARAMS})
SUBJECT_WORDS = {
    SubjectKind.COMPANY: "the whole company",
    SubjectKind.ACCOUNT: "an account",
    SubjectKind.TEAM: "a team",
    SubjectKind.AGENT: "an agent",
    SubjectKind.CSM: "a CSM's portfolio",
    SubjectKind.TIER: "a tier",
    SubjectKind.CHANNEL: "a channel",
    SubjectKind.BAND: "a health band",
}
# Retention is computed from the revenue events of the company's, a portfolio's or a
# tier's accounts (selectors.reports.retention).
RETENTION_SUBJECTS = frozenset({SubjectKind.COMPANY, SubjectKind.CSM, SubjectKind.TIER})


class MetricSerializer(serializers.Serializer):
    metric = serializers.CharField()
    value = serializers.FloatField(
        allow_null=True,
        help_text="The period's value as the reports show it (durations: the median, in "
        "hours); null when there is no data.",
    )
    n = serializers.IntegerField(help_text="The sample behind the value; 0 without data.")
    mean = serializers.FloatField(required=False, allow_null=True, help_text="Durations only.")
    p90 = serializers.FloatField(required=False, allow_null=True, help_text="Durations only.")
    from_ = serializers.DateField()
    to = serializers.DateField(help_text="The first day not included.")
    unit = serializers.ChoiceField(choices=["percent", "hours", "count", "score", "money"])
    definition = serializers.CharField()
    subject = serializers.CharField(help_text="Whose numbers, in words.")

    def get_fields(self):
        fields = super().get_fields()
        fields["from"] = fields.pop("from_")
        return fields


def _params(request) -> dict[str, str]:
    unknown = sorted(set(request.query_params) - KNOWN_PARAMS)
    if unknown:
        raise ValidationError(
            {name: ["Unknown parameter."] for name in unknown}
            | {"non_field_errors": [f"Known parameters: {', '.join(sorted(KNOWN_PARAMS))}."]}
        )
    return {name: request.query_params.get(name, "") for name in KNOWN_PARAMS}


def _period_and_subject_field(params: dict[str, str]) -> tuple[Period, str, object]:
    """The period and the chosen subject filter (validated by the reports' form)."""
    data = {name: params[name] for name in ("from", "to", "team", "agent", "csm", "tier")}
    form = ReportFilterForm(data, today=timezone.localdate())
    if not form.is_valid():
        errors = {}
        for name, messages in form.errors.items():
            errors["non_field_errors" if name == "__all__" else name] = list(messages)
        raise ValidationError(errors)
    cleaned = form.cleaned_data
    field = cleaned["subject_field"]
    value = cleaned.get(field) if field else None
    if params["account"]:
        if field:
            raise ValidationError(
                {"account": [f"Choose one of account and {field}: numbers are kept per one."]}
            )
        try:
            value = int(params["account"])
        except ValueError:
            raise ValidationError({"account": ["Give the account's id."]}) from None
        field = "account"
    return Period(cleaned["from"], cleaned["to"], "month"), field, value


def _subject(field: str, value, viewer) -> Subject:
    """The subject asked for, defaulted and limited by the viewer's role (as the reports)."""
    if viewer.role == Role.AGENT:
        if not field:
            field, value = "agent", viewer.pk
        if field not in ("agent", "team"):
            raise PermissionDenied("Agents see their own numbers and their teams'.")
        if field == "agent" and value != viewer.pk:
            raise PermissionDenied("Agents see their own numbers and their teams'.")
        if field == "team" and not viewer.teams.filter(pk=value).exists():
            raise PermissionDenied("Agents see their own numbers and their teams'.")
    elif viewer.role == Role.CSM:
        if not field:
            field, value = "csm", viewer.pk
        if field not in ("csm", "account"):
            raise PermissionDenied("CSMs see their own portfolio's numbers.")
        if field == "csm" and value != viewer.pk:
            raise PermissionDenied("CSMs see their own portfolio's numbers.")
    if field == "account":
        accounts = Account.objects.filter(pk=value)
        if viewer.role == Role.CSM:
            accounts = accounts.filter(csm=viewer)
        name = accounts.values_list("name", flat=True).first()
        if name is None:
            raise NotFound(f"There is no account {value}.")
        return Subject(SubjectKind.ACCOUNT, value, name)
    try:
        return selectors.subject_for(field, value)
    except LookupError as error:
        raise NotFound(str(error)) from None


def _refuse_subject(name: str, subject: Subject, kept_for) -> None:
    if subject.kind in kept_for:
        return
    offered = ", ".join(SUBJECT_WORDS[kind] for kind in SUBJECT_WORDS if kind in kept_for)
    raise ValidationError(
        [f"{name} is not kept for {SUBJECT_WORDS[subject.kind]}; it is kept for {offered}."]
    )


def metric_value(name: str, params: dict[str, str], viewer) -> dict:
    """The API's answer for one metric (the body of a 200)."""
    api_metric = METRICS.get(name)
    if api_metric is None:
        raise NotFound(f"Unknown metric {name!r}: choose one of {', '.join(sorted(METRICS))}.")
    period, field, value = _period_and_subject_field(params)
    if viewer.role == Role.AGENT and not api_metric.support:
        raise PermissionDenied("Agents see the support metrics only.")
    calendar = params["calendar"] or "business"
    if calendar not in ("business", "calendar"):
        raise ValidationError({"calendar": ["Use business or calendar."]})
    is_duration = bool(api_metric.snapshot_calendar)
    if params["calendar"] and not is_duration:
        raise ValidationError({"calendar": [f"{name} is not a duration."]})
    if params["target"] and name != "sla_compliance":
        raise ValidationError({"target": ["Only sla_compliance has SLA targets."]})
    subject = _subject(field, value, viewer)
    body: dict = {"metric": name, "from": period.start, "to": period.end}

    if api_metric.retention:
        _refuse_subject(name, subject, RETENTION_SUBJECTS)
        kept = selectors.retention(subject=subject, period=period)
        raw = getattr(kept, api_metric.retention) if kept.starting else None
        if raw is None:
            shown = None
        elif api_metric.unit == "money":
            shown = float(round(raw, 2))
        else:
            shown = formulas.round_for_display(raw)
        body |= {
            "value": shown,
            "n": kept.starting if shown is not None else 0,
            "unit": api_metric.unit,
            "definition": api_metric.definition,
        }
    else:
        snapshot = api_metric.snapshot
        if calendar == "calendar" and is_duration:
            snapshot = api_metric.snapshot_calendar
        if name == "sla_compliance" and params["target"]:
            snapshot = SLA_TARGETS.get(params["target"], "")
            if not snapshot:
                raise ValidationError({"target": [f"Use one of {', '.join(SLA_TARGETS)}."]})
        definition = catalogue.metric(snapshot)
        _refuse_subject(name, subject, definition.subjects)
        result = selectors.snapshot_results(
            metrics=[snapshot], kind=subject.kind, ids=[subject.id], period=period, series=[]
        )[(snapshot, subject.id)]
        total = result.total
        body |= {
            "value": selectors.display(total.value, definition.unit),
            "n": total.sample_size if total.value is not None else 0,
            "unit": UNITS[definition.unit],
            "definition": definition.definition,
        }
        if is_duration:
            body["mean"] = selectors.display(total.mean, definition.unit)
            body["p90"] = selectors.display(total.p90, definition.unit)
            body["calendar"] = calendar
    body["subject"] = subject.label
    return body


class MetricView(ApiView):
    """One metric over a period, as the reports compute it."""

    required_scopes = {"GET": ApiScope.METRICS_READ}
    read_roles = STAFF
    role_message = "Customers cannot read the metrics."

    @extend_schema(
        summary="Get a metric over a period",
        parameters=[
            OpenApiParameter(
                "name",
                OpenApiTypes.STR,
                OpenApiParameter.PATH,
                enum=sorted(METRICS),
                description="The metric.",
            ),
            OpenApiParameter("from", OpenApiTypes.DATE, description="First day (YYYY-MM-DD)."),
            OpenApiParameter("to", OpenApiTypes.DATE, description="First day not included."),
            OpenApiParameter("account", OpenApiTypes.INT, description="An account's id."),
            OpenApiParameter("team", OpenApiTypes.INT, description="A team's id."),
            OpenApiParameter("agent", OpenApiTypes.INT, description="An agent's user id."),
            OpenApiParameter("csm", OpenApiTypes.INT, description="A CSM's user id (portfolio)."),
            OpenApiParameter("tier", OpenApiTypes.STR, enum=["enterprise", "growth", "starter"]),
            OpenApiParameter(
                "calendar",
                OpenApiTypes.STR,
                enum=["business", "calendar"],
                description="Durations only: business hours (default) or calendar time.",
            ),
            OpenApiParameter(
                "target",
                OpenApiTypes.STR,
                enum=sorted(SLA_TARGETS),
                description="sla_compliance only: which SLA target (default tickets).",
            ),
        ],
        responses={200: MetricSerializer},
    )
    def get(self, request, name: str) -> Response:
        return Response(metric_value(name, _params(request), request.user))
