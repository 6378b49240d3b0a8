"""/api/v1/surveys/csat/: CSAT answers, listed, and recorded for surveys run in other tools.

Staff read them; admins and managers (an integration's token) record them; customers
answer through the signed survey link. Scopes: `tickets:read` to list, `tickets:write` to
record. An answer goes through support.services.surveys
(csat_response_record): one answer per ticket, answering again replaces it. `submitted_at`
(when the customer answered) may be set only with the `import` scope and not in the future.
"""

from django.db.models import QuerySet
from django_filters import rest_framework as filters
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import mixins, serializers, viewsets
from rest_framework.exceptions import ValidationError

from accounts.api.permissions import require_import_scope
from accounts.api.serializers import StrictSerializer
from accounts.api.viewsets import ApiViewMixin
from accounts.models import ApiScope
from accounts.permissions import MANAGERS, STAFF

from ..models import CsatResponse, Ticket
from ..services import surveys as services

MAX_TICKET_NUMBER = 2**63 - 1


class CsatResponseSerializer(StrictSerializer):
    id = serializers.IntegerField(read_only=True)
    ticket = serializers.IntegerField(
        source="ticket_id",
        min_value=1,
        max_value=MAX_TICKET_NUMBER,
        help_text="The ticket's number.",
    )
    score = serializers.IntegerField(
        source="rating", min_value=1, max_value=5, help_text="1 (very dissatisfied) to 5."
    )
    ces = serializers.IntegerField(
        min_value=1,
        max_value=7,
        required=False,
        allow_null=True,
        help_text="Customer effort, 1 (very hard) to 7 (very easy); null when not asked.",
    )
    comment = serializers.CharField(required=False, allow_blank=True, max_length=10000)
    account = serializers.IntegerField(source="account_id", read_only=True, allow_null=True)
    submitted_at = serializers.DateTimeField(
        source="responded_at",
        required=False,
        help_text="When the customer answered; default now. Setting it needs the `import` scope.",
    )

    def validate_ticket(self, number: int) -> int:
        if not Ticket.objects.filter(pk=number).exists():
            raise ValidationError(f"Ticket #{number} does not exist.")
        return number


class CsatFilter(filters.FilterSet):
    ticket = filters.NumberFilter(field_name="ticket_id")
    account = filters.NumberFilter(field_name="account_id")
    score = filters.NumberFilter(field_name="rating")
    updated_since = filters.IsoDateTimeFilter(
        field_name="responded_at",
        lookup_expr="gte",
        label="Answered at or after (ISO 8601); an answer replaced counts as new.",
    )

    class Meta:
        model = CsatResponse
        fields = ["ticket", "account", "score", "updated_since"]


@extend_schema_view(
    list=extend_schema(summary="List CSAT answers"),
    create=extend_schema(summary="Record a CSAT answer (replaces the ticket's earlier one)"),
)
class CsatResponseViewSet(
    ApiViewMixin, mixins.CreateModelMixin, mixins.ListModelMixin, viewsets.GenericViewSet
):
    """CSAT answers, newest first."""

    serializer_class = CsatResponseSerializer
    filterset_class = CsatFilter
    read_scope = ApiScope.TICKETS_READ
    write_scope = ApiScope.TICKETS_WRITE
    read_roles = STAFF
    # Recording answers is an integration's job (a survey tool, a history import): an agent
    # must not be able to rate, or re-rate, the tickets their own CSAT is computed from.
    write_roles = MANAGERS
    role_message = "CSAT answers are for staff."
    write_role_message = (
        "Only admins and managers may record CSAT answers (customers answer through the "
        "survey link)."
    )
    cursor_ordering = ("-responded_at", "-id")

    def get_queryset(self) -> QuerySet[CsatResponse]:
        return CsatResponse.objects.all()

    def perform_create(self, serializer) -> None:
        data = serializer.validated_data
        submitted_at = data.get("responded_at")
        if submitted_at is not None:
            require_import_scope(self.request, "submitted_at")
        ticket = Ticket.objects.filter(pk=data["ticket_id"]).values("requester_id").first()
        try:
            serializer.instance = services.csat_response_record(
                ticket_id=data["ticket_id"],
                contact_id=ticket["requester_id"] if ticket else None,
                rating=data["rating"],
                ces=data.get("ces"),
                comment=data.get("comment", ""),
                responded_at=submitted_at,
            )
        except services.SurveyError as error:
            raise ValidationError({"ticket": [str(error)]}) from None
