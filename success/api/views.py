"""REST endpoints for the success data. Every write goes through success.services, as the
HTML views' do.

Who may use them: admins and managers every account's data; CSMs their own portfolio's only
(success.selectors.portfolio): another account's rows are 404 and its id in a body is
"does not exist", exactly as an id that does not exist; support agents and customers get 403
(success data is not theirs to read or write). Scopes: `success:read` to read,
`success:write` to write.
"""

import re
from collections.abc import Mapping

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models import Prefetch, QuerySet
from django.utils import timezone
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import mixins, status, viewsets
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response

from accounts.api.concurrency import ETagMixin
from accounts.api.permissions import require_import_scope
from accounts.api.viewsets import ApiModelViewSet, ApiView, ApiViewMixin
from accounts.choices import Role
from accounts.models import Account, ApiScope
from accounts.permissions import SUCCESS_STAFF

from .. import services
from ..models import NpsResponse, PlanMilestone, RevenueEvent, Subscription, SuccessPlan, Touchpoint
from ..selectors import portfolio
from . import filters
from .serializers import (
    MAX_USAGE_ROWS,
    NpsResponseSerializer,
    RevenueEventSerializer,
    SubscriptionSerializer,
    SuccessPlanSerializer,
    TouchpointSerializer,
    UsageResultSerializer,
    UsageRowSerializer,
)


class SuccessApiMixin:
    read_scope = ApiScope.SUCCESS_READ
    write_scope = ApiScope.SUCCESS_WRITE
    read_roles = SUCCESS_STAFF
    write_roles = SUCCESS_STAFF
    role_message = "Only admins, managers and CSMs may use the success data."

    def portfolio_accounts(self) -> QuerySet[Account]:
        """The accounts the caller may see and write: a CSM's own, everyone else's all."""
        if getattr(self, "swagger_fake_view", False):  # the OpenAPI schema's generation
            return Account.objects.none()
        return portfolio(viewer=self.request.user)

    def in_portfolio(self, queryset: QuerySet) -> QuerySet:
        if getattr(self.request.user, "role", None) == Role.CSM:
            return queryset.filter(account__in=self.portfolio_accounts().values("pk"))
        return queryset


class ApiCreateReadViewSet(
    ApiViewMixin,
    ETagMixin,
    mixins.CreateModelMixin,
    mixins.RetrieveModelMixin,
    mixins.ListModelMixin,
    viewsets.GenericViewSet,
):
    """List, create and retrieve: rows that are recorded, not edited."""


# --- subscriptions ------------------------------------------------------------------------

_SUBSCRIPTION_FIELDS = ("account", "plan_name", "seats", "mrr", "start_date", "end_date", "status")


@extend_schema_view(
    list=extend_schema(summary="List subscriptions"),
    create=extend_schema(summary="Create a subscription"),
    retrieve=extend_schema(summary="Get a subscription"),
    update=extend_schema(summary="Replace a subscription's fields"),
    partial_update=extend_schema(summary="Change some of a subscription's fields"),
)
class SubscriptionViewSet(SuccessApiMixin, ApiModelViewSet):
    """Customer accounts' contracts: plan, seats, MRR and the dates they run."""

    serializer_class = SubscriptionSerializer
    filterset_class = filters.SubscriptionFilter

    def get_queryset(self) -> QuerySet[Subscription]:
        return self.in_portfolio(Subscription.objects.order_by("pk"))

    def perform_create(self, serializer) -> None:
        serializer.instance = services.subscription_save(**serializer.validated_data)

    def perform_update(self, serializer) -> None:
        instance = serializer.instance
        fields = {name: getattr(instance, name) for name in _SUBSCRIPTION_FIELDS}
        fields.update(serializer.validated_data)
        serializer.instance = services.subscription_save(subscription=instance, **fields)


# --- revenue events -----------------------------------------------------------------------


@extend_schema_view(
    list=extend_schema(summary="List revenue events"),
    create=extend_schema(summary="Record a revenue event"),
    retrieve=extend_schema(summary="Get a revenue event"),
)
class RevenueEventViewSet(SuccessApiMixin, ApiCreateReadViewSet):
    """Changes in an account's MRR (new, expansion, contraction, churn, reactivation): the
    source of the retention metrics. Recorded, never edited: a correction is a new event."""

    serializer_class = RevenueEventSerializer
    filterset_class = filters.RevenueEventFilter

    def get_queryset(self) -> QuerySet[RevenueEvent]:
        return self.in_portfolio(RevenueEvent.objects.select_related("recorded_by").order_by("pk"))

    def perform_create(self, serializer) -> None:
        if serializer.validated_data["date"] < timezone.localdate():
            require_import_scope(self.request, "an effective_date in the past")
        serializer.instance = services.revenue_event_record(
            acting_user=self.request.user, **serializer.validated_data
        )


# --- success plans ------------------------------------------------------------------------


@extend_schema_view(
    list=extend_schema(summary="List success plans"),
    create=extend_schema(summary="Start a success plan from a template"),
    retrieve=extend_schema(summary="Get a success plan"),
)
class SuccessPlanViewSet(SuccessApiMixin, ApiCreateReadViewSet):
    """Success plans with their milestones. A new plan starts from a plan template: it gets
    one milestone per template step, due that many days after its start date."""

    serializer_class = SuccessPlanSerializer
    filterset_class = filters.SuccessPlanFilter

    def get_queryset(self) -> QuerySet[SuccessPlan]:
        milestones = PlanMilestone.objects.select_related("owner").order_by("position", "id")
        return self.in_portfolio(
            SuccessPlan.objects.prefetch_related(Prefetch("milestones", queryset=milestones))
        ).order_by("pk")

    def perform_create(self, serializer) -> None:
        data = serializer.validated_data
        plan = services.plan_apply_template(
            account=data["account"],
            template=data["template"],
            start_date=data["start_date"],
            acting_user=self.request.user,
            owner=data.get("owner"),
        )
        serializer.instance = self.get_queryset().get(pk=plan.pk)


# --- touchpoints --------------------------------------------------------------------------


@extend_schema_view(
    list=extend_schema(summary="List touchpoints"),
    create=extend_schema(summary="Log a touchpoint"),
    retrieve=extend_schema(summary="Get a touchpoint"),
)
class TouchpointViewSet(SuccessApiMixin, ApiCreateReadViewSet):
    """Calls, meetings, QBRs, emails and check-ins with customer accounts."""

    serializer_class = TouchpointSerializer
    filterset_class = filters.TouchpointFilter

    def get_queryset(self) -> QuerySet[Touchpoint]:
        return self.in_portfolio(
            Touchpoint.objects.select_related("logged_by")
            .prefetch_related("participants")
            .order_by("pk")
        )

    def perform_create(self, serializer) -> None:
        serializer.instance = services.touchpoint_log(
            acting_user=self.request.user, **serializer.validated_data
        )


# --- NPS ----------------------------------------------------------------------------------


@extend_schema_view(
    list=extend_schema(summary="List NPS answers"),
    create=extend_schema(summary="Record an NPS answer"),
    retrieve=extend_schema(summary="Get an NPS answer"),
)
class NpsResponseViewSet(SuccessApiMixin, ApiCreateReadViewSet):
    """NPS answers (0-10) of people at customer accounts, from our survey page or from
    other tools. `submitted_at` may be set only with the `import` scope (history import);
    otherwise the answer is recorded now."""

    serializer_class = NpsResponseSerializer
    filterset_class = filters.NpsResponseFilter

    def get_queryset(self) -> QuerySet[NpsResponse]:
        return self.in_portfolio(NpsResponse.objects.select_related("contact").order_by("pk"))

    def perform_create(self, serializer) -> None:
        data = serializer.validated_data
        if "responded_at" in data:
            require_import_scope(self.request, "submitted_at")
        serializer.instance = services.nps_response_import(
            contact=data["contact"],
            score=data["score"],
            reason=data.get("reason", ""),
            responded_at=data.get("responded_at"),
        )


# --- usage --------------------------------------------------------------------------------

_USAGE_KEYS = ("account", "date", "metric", "value")
# The service names the row's keys as stored; the API's client sent these.
_SERVICE_WORDS = ((re.compile(r"\baccount_id\b"), "account"), (re.compile(r": day\b"), ": date"))


def _client_words(message: str) -> str:
    for pattern, word in _SERVICE_WORDS:
        message = pattern.sub(word, message)
    return message


class UsageView(SuccessApiMixin, ApiView):
    """Daily product usage, in batches: `[{account, date, metric, value}, ...]`.

    All or nothing: if any row is wrong (unknown account, a day in the future, a negative
    value, a bad metric name, the same account/day/metric twice) nothing is stored and the
    400 lists each failing row (counted from 1) and why. Stored rows replace what was sent
    before for the same account, day and metric, so sending a batch again is safe."""

    required_scopes = {"POST": ApiScope.SUCCESS_WRITE}

    @extend_schema(
        summary="Send daily usage numbers",
        request=UsageRowSerializer(many=True),
        responses={200: UsageResultSerializer},
    )
    def post(self, request, *args, **kwargs) -> Response:
        body = request.data
        if not isinstance(body, list):
            raise ValidationError(["Send a JSON list of {account, date, metric, value} rows."])
        if not body:
            raise ValidationError(["The batch is empty."])
        if len(body) > MAX_USAGE_ROWS:
            raise ValidationError(
                [f"A batch holds at most {MAX_USAGE_ROWS:,} rows (got {len(body):,}); split it."]
            )
        shape_errors: list[str] = []
        rows = []
        for number, row in enumerate(body, start=1):
            if not isinstance(row, Mapping):
                shape_errors.append(f"Row {number}: expected an object, got {_json_type(row)}.")
                continue
            unknown = sorted(str(key) for key in row if key not in _USAGE_KEYS)
            missing = [key for key in _USAGE_KEYS if key not in row]
            if unknown:
                shape_errors.append(f"Row {number}: unknown fields {', '.join(unknown)}.")
            if missing:
                shape_errors.append(f"Row {number}: missing {', '.join(missing)}.")
            rows.append(
                {
                    "account_id": row.get("account"),
                    "day": row.get("date"),
                    "metric": row.get("metric"),
                    "value": row.get("value"),
                }
            )
        if shape_errors:
            raise ValidationError({"rows": shape_errors})
        accounts = self.portfolio_accounts() if request.user.role == Role.CSM else None
        try:
            stored = services.usage_ingest(rows=rows, accounts=accounts)
        except DjangoValidationError as error:
            raise ValidationError({"rows": [_client_words(m) for m in error.messages]}) from None
        return Response({"stored": stored}, status=status.HTTP_200_OK)


def _json_type(value: object) -> str:
    if isinstance(value, list):
        return "a list"
    if value is None:
        return "null"
    return {str: "a string", bool: "a boolean", int: "a number", float: "a number"}.get(
        type(value), type(value).__name__
    )
