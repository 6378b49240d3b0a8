"""/api/v1/escalations/: escalation flags between support and success, with the
`acknowledge` and `resolve` commands (metrics.services.escalations, as the flag page).

Scope rule (one for every role): `success:read` to read, `success:write` for the commands.
Roles: all staff, as on the flag pages; CSMs only the flags of their portfolio's accounts
(another account's flag is 404, as a flag that does not exist); customers 403.
"""

from django.db.models import QuerySet
from django_filters import rest_framework as filters
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import mixins, serializers, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from accounts.api.errors import Conflict
from accounts.api.serializers import StrictSerializer
from accounts.api.viewsets import ApiViewMixin
from accounts.choices import Role
from accounts.models import ApiScope
from accounts.permissions import STAFF
from success.selectors import portfolio

from ..models import EscalationDirection, EscalationFlag, FlagState, RuleCode
from ..services.escalations import FlagError, escalation_flag_acknowledge, escalation_flag_resolve


class EscalationFlagSerializer(serializers.ModelSerializer):
    rule = serializers.CharField(source="rule.code", read_only=True)
    account = serializers.IntegerField(source="account_id", read_only=True)
    owner = serializers.EmailField(source="owner.email", read_only=True, allow_null=True)
    acknowledged_by = serializers.EmailField(
        source="acknowledged_by.email", read_only=True, allow_null=True
    )
    resolved_by = serializers.EmailField(
        source="resolved_by.email", read_only=True, allow_null=True
    )
    evidence = serializers.JSONField(read_only=True)

    class Meta:
        model = EscalationFlag
        fields = [
            "id",
            "account",
            "rule",
            "direction",
            "state",
            "owner",
            "evidence",
            "opened_at",
            "last_fired_at",
            "condition_cleared_at",
            "acknowledged_at",
            "acknowledged_by",
            "resolved_at",
            "resolved_by",
            "resolution_note",
        ]
        read_only_fields = fields


class FlagNoteSerializer(StrictSerializer):
    note = serializers.CharField(required=False, allow_blank=True, help_text="Why, or what next.")


class FlagResolveSerializer(StrictSerializer):
    note = serializers.CharField(help_text="Why the flag is resolved (required).")


class EscalationFlagFilter(filters.FilterSet):
    account = filters.NumberFilter(field_name="account_id")
    state = filters.ChoiceFilter(choices=FlagState.choices)
    direction = filters.ChoiceFilter(choices=EscalationDirection.choices)
    rule = filters.ChoiceFilter(field_name="rule__code", choices=RuleCode.choices)
    opened_since = filters.IsoDateTimeFilter(
        field_name="opened_at", lookup_expr="gte", label="Opened at or after (ISO 8601)"
    )
    updated_since = filters.IsoDateTimeFilter(
        field_name="last_fired_at",
        lookup_expr="gte",
        label="Raised or given new evidence at or after (ISO 8601)",
    )

    class Meta:
        model = EscalationFlag
        fields = ["account", "state", "direction", "rule", "opened_since", "updated_since"]


@extend_schema_view(
    list=extend_schema(summary="List escalation flags"),
    retrieve=extend_schema(summary="Get an escalation flag"),
)
class EscalationFlagViewSet(
    ApiViewMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet
):
    """Flags raised by the escalation rules, newest first."""

    serializer_class = EscalationFlagSerializer
    filterset_class = EscalationFlagFilter
    read_scope = ApiScope.SUCCESS_READ
    write_scope = ApiScope.SUCCESS_WRITE
    read_roles = STAFF
    write_roles = STAFF
    role_message = "Escalations are for staff."
    cursor_ordering = ("-opened_at", "-id")
    lookup_value_regex = "[0-9]{1,18}"

    def get_queryset(self) -> QuerySet[EscalationFlag]:
        flags = EscalationFlag.objects.select_related(
            "rule", "owner", "acknowledged_by", "resolved_by"
        )
        if getattr(self, "swagger_fake_view", False):
            return flags.none()
        if self.request.user.role == Role.CSM:
            flags = flags.filter(account__in=portfolio(viewer=self.request.user).values("pk"))
        return flags

    def filter_queryset(self, queryset: QuerySet) -> QuerySet:
        return super().filter_queryset(queryset) if self.action == "list" else queryset

    def get_serializer_class(self):
        if self.action == "acknowledge":
            return FlagNoteSerializer
        if self.action == "resolve":
            return FlagResolveSerializer
        return EscalationFlagSerializer

    def _command(self, request, service):
        flag = self.get_object()  # 404 outside the caller's portfolio
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        try:
            service(
                flag_id=flag.pk,
                acting_user=request.user,
                note=serializer.validated_data.get("note", ""),
            )
        except FlagError as error:
            raise Conflict(str(error), code="flag_resolved") from None
        return Response(EscalationFlagSerializer(self.get_queryset().get(pk=flag.pk)).data)

    @extend_schema(summary="Acknowledge a flag", responses={200: EscalationFlagSerializer})
    @action(detail=True, methods=["post"], filterset_class=None)
    def acknowledge(self, request, pk=None):
        """Someone has seen the flag and is on it (`note` optional); twice changes nothing."""
        return self._command(request, escalation_flag_acknowledge)

    @extend_schema(summary="Resolve a flag", responses={200: EscalationFlagSerializer})
    @action(detail=True, methods=["post"], filterset_class=None)
    def resolve(self, request, pk=None):
        """Closes the flag by hand; `note` (why) is required."""
        return self._command(request, escalation_flag_resolve)
