"""REST endpoints for tickets (with their messages and the claim and merge commands) and for
the SLA settings (business-hours calendars and SLA policies).

Built on the API foundation in accounts.api (token scopes, roles, the error shape, cursor
pages, rate limits, idempotency keys, ETags)."""

from collections.abc import Mapping

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import transaction
from django.db.models import ProtectedError, QuerySet
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import status
from rest_framework.decorators import action
from rest_framework.exceptions import PermissionDenied, ValidationError
from rest_framework.response import Response
from rest_framework.settings import api_settings

from accounts.api.concurrency import ETagDestroyModelMixin, if_match_tags, with_etag
from accounts.api.errors import Conflict
from accounts.api.permissions import require_import_scope
from accounts.api.viewsets import ApiModelViewSet
from accounts.models import ApiScope
from accounts.permissions import MANAGERS, SUPPORT_STAFF
from accounts.services import contact_get_or_create

from .. import selectors, services
from ..choices import Channel, Status
from ..filters import TicketFilter
from ..models import BusinessCalendar, Message, SlaPolicy, Ticket
from ..services.imports import ImportRejected, ticket_import
from .serializers import (
    HISTORY_FIELDS,
    BusinessCalendarSerializer,
    SlaPolicySerializer,
    TicketMergeSerializer,
    TicketMessageSerializer,
    TicketSerializer,
)


class SlaSettingsViewSet(ETagDestroyModelMixin, ApiModelViewSet):
    """Support staff may read the SLA settings; only admins and managers may change them
    (with a token: `tickets:read` to read, `admin` to change)."""

    read_scope = ApiScope.TICKETS_READ
    write_scope = ApiScope.ADMIN
    read_roles = SUPPORT_STAFF
    write_roles = MANAGERS
    role_message = "Your role does not give access to the SLA settings."
    write_role_message = "Only admins and managers may change the SLA settings."


class BusinessCalendarViewSet(SlaSettingsViewSet):
    """Business-hours calendars with their weekly working intervals and holidays."""

    queryset = BusinessCalendar.objects.prefetch_related("intervals")
    serializer_class = BusinessCalendarSerializer
    cursor_ordering = "name"  # unique, as cursor pagination needs

    def perform_destroy(self, instance: BusinessCalendar) -> None:
        try:
            services.sla_settings_delete(instance=instance)
        except ProtectedError as error:
            names = ", ".join(sorted(policy.name for policy in error.protected_objects))
            raise Conflict(
                f"The calendar is used by SLA policies ({names}); give them another calendar first."
            ) from None


class SlaPolicyViewSet(SlaSettingsViewSet):
    """SLA policies, matched in `position` order, with their targets."""

    queryset = SlaPolicy.objects.prefetch_related("teams", "targets")
    serializer_class = SlaPolicySerializer
    cursor_ordering = "position"  # unique, and the order in which policies are matched

    def perform_destroy(self, instance: SlaPolicy) -> None:
        services.sla_settings_delete(instance=instance)


# --- tickets ------------------------------------------------------------------------------

# Who works tickets through the API: the staff who may on the ticket pages
# (accounts.permissions.SUPPORT_STAFF, CSMs included). Customers have the portal: the
# tickets API is for staff only.
TICKET_WRITERS = SUPPORT_STAFF


def api_error_of(error: Exception) -> Exception:
    """A refusal of the ticket services as the API's error: a change based on an old
    version, a ticket someone else has, or a closed ticket conflict with the current state
    (409); any other rule the change breaks is the request's fault (400)."""
    if isinstance(error, services.StaleTicket):
        return Conflict(str(error), code="stale_version")
    if isinstance(error, services.AlreadyClaimed):
        return Conflict(str(error), code="already_claimed")
    if isinstance(error, services.TicketClosed):
        return Conflict(str(error), code="ticket_closed")
    if isinstance(error, services.TicketError | ImportRejected):
        return ValidationError({api_settings.NON_FIELD_ERRORS_KEY: [str(error)]})
    return error


def check_may_import_history(request) -> None:
    """Historical timestamps rewrite what the metrics count, so, as for the history import
    (support/api/imports.py), only admins and managers may set them, and a token of theirs
    only with the `import` scope; anyone else gets a 403 saying so."""
    require_import_scope(request, "created_at, solved_at or external_id")
    if request.user.role not in MANAGERS:
        raise PermissionDenied(
            "Only admins and managers may set created_at, solved_at or external_id (a history "
            "import)."
        )


def _renamed(error: DjangoValidationError, names: dict[str, str]) -> DjangoValidationError:
    """The services name the first message `body`; the API calls it `description`."""
    if not hasattr(error, "error_dict"):
        return error
    return DjangoValidationError(
        {names.get(name, name): messages for name, messages in error.message_dict.items()}
    )


@extend_schema_view(
    list=extend_schema(summary="List tickets"),
    create=extend_schema(summary="Open a ticket"),
    retrieve=extend_schema(summary="Get a ticket"),
    partial_update=extend_schema(summary="Change some of a ticket's fields"),
)
class TicketViewSet(ApiModelViewSet):
    """Tickets, addressed by number. Staff (CSMs too, as on the ticket pages) read, open
    and change them, through the same services (and rules) as the ticket page."""

    serializer_class = TicketSerializer
    filterset_class = TicketFilter
    lookup_url_kwarg = "number"
    lookup_value_regex = "[0-9]{1,18}"  # within bigint: a longer number is simply unknown
    http_method_names = ["get", "post", "patch", "head", "options"]
    read_scope = ApiScope.TICKETS_READ
    write_scope = ApiScope.TICKETS_WRITE
    read_roles = SUPPORT_STAFF
    write_roles = TICKET_WRITERS
    role_message = "The tickets API is for staff; customers use the portal."
    write_role_message = "Only staff may change tickets."

    def get_queryset(self) -> QuerySet[Ticket]:
        return selectors.ticket_api_queryset()

    def filter_queryset(self, queryset: QuerySet) -> QuerySet:
        # The FilterSet narrows lists; a ticket's own URL finds it whatever the query string.
        return super().filter_queryset(queryset) if self.action == "list" else queryset

    def get_serializer_class(self):
        if self.action == "messages":
            return TicketMessageSerializer
        if self.action == "merge":
            return TicketMergeSerializer
        return TicketSerializer

    def handle_exception(self, exc):
        return super().handle_exception(api_error_of(exc))

    def _reloaded(self, ticket_id: int) -> Ticket:
        return selectors.ticket_api_queryset().get(pk=ticket_id)

    def create(self, request, *args, **kwargs):
        # Who may import history is decided before the body is validated.
        if isinstance(request.data, Mapping) and HISTORY_FIELDS & request.data.keys():
            check_may_import_history(request)
        return super().create(request, *args, **kwargs)

    def perform_create(self, serializer) -> None:
        data = dict(serializer.validated_data)
        if data.get("created_at") is not None:  # a history import (solved_at needs it)
            serializer.instance = self._reloaded(self._import(data).pk)
            return
        data.pop("solved_at", None)  # null: not solved, as on any new ticket
        # One transaction: a ticket the rules refuse leaves no new contact behind.
        with transaction.atomic():
            requester = contact_get_or_create(email=data.pop("requester")["email"])
            try:
                ticket = services.ticket_create(
                    requester=requester,
                    subject=data.pop("subject"),
                    body=data.pop("description"),
                    channel=data.pop("channel", Channel.API),
                    **data,
                )
            except DjangoValidationError as error:
                raise _renamed(error, {"body": "description"}) from None
        serializer.instance = self._reloaded(ticket.pk)

    def _import(self, data: dict) -> Ticket:
        """A ticket with historical timestamps, replayed by the history import (the same
        services, with `at=`) as a record with no messages after the first: the event log,
        first_response_at, solved_at and the SLA clocks come out as if it had happened
        then, nobody is emailed, and its past SLA moments are recorded without notifying.
        The solve is by the assignee, or else by the caller."""
        record = {
            "subject": data["subject"],
            "description": data["description"],
            "requester": data["requester"]["email"],
            "created_at": data["created_at"].isoformat(),
        }
        record |= {
            name: data[name] for name in ("channel", "priority", "type", "tags") if name in data
        }
        if data.get("assignee") is not None:
            record["assignee"] = data["assignee"].email
        if data.get("team") is not None:
            record["team"] = data["team"].pk
        if data.get("external_id"):
            record["external_id"] = data["external_id"]
        if data.get("solved_at") is not None:
            solver = data.get("assignee") or self.request.user
            record["history"] = [
                {"status": Status.SOLVED, "at": data["solved_at"].isoformat(), "by": solver.email}
            ]
        return ticket_import(record=record)

    def perform_update(self, serializer) -> None:
        data = dict(serializer.validated_data)
        version = data.pop("version", None)
        if version is None and if_match_tags(self.request) is not None:
            # If-Match was checked against this row, locked since: hold the service to it.
            version = serializer.instance.version
        ticket = services.ticket_update(
            ticket_id=serializer.instance.pk,
            acting_user=self.request.user,
            expected_version=version,
            **data,
        )
        serializer.instance = self._reloaded(ticket.pk)

    @extend_schema(
        methods=["GET"],
        summary="List a ticket's messages",
        responses={200: TicketMessageSerializer(many=True)},
    )
    @extend_schema(
        methods=["POST"],
        summary="Add a public reply or an internal note",
        responses={201: TicketMessageSerializer},
    )
    @action(detail=True, methods=["get", "post"], filterset_class=None)
    def messages(self, request, number=None):
        """Public replies and internal notes, oldest first. POST adds an agent's public
        reply (`public`: true, emailed to the requester) or internal note (false)."""
        ticket = self.get_object()
        if request.method == "POST":
            serializer = self.get_serializer(data=request.data)
            serializer.is_valid(raise_exception=True)
            message = services.ticket_reply(
                ticket_id=ticket.pk, acting_user=request.user, **serializer.validated_data
            )
            return Response(self.get_serializer(message).data, status=status.HTTP_201_CREATED)
        thread = Message.objects.filter(ticket=ticket).select_related(
            "author_user", "author_contact"
        )
        page = self.paginate_queryset(thread)
        return self.get_paginated_response(self.get_serializer(page, many=True).data)

    @extend_schema(summary="Claim a ticket (become its assignee)", request=None)
    @action(detail=True, methods=["post"], filterset_class=None)
    def claim(self, request, number=None):
        """Assigns the ticket to the caller unless someone else has it (409 naming them)."""
        ticket = self.get_object()
        services.ticket_claim(ticket_id=ticket.pk, acting_user=request.user)
        return with_etag(Response(TicketSerializer(self._reloaded(ticket.pk)).data))

    @extend_schema(summary="Merge a ticket into another", responses={200: TicketSerializer})
    @action(detail=True, methods=["post"], filterset_class=None)
    def merge(self, request, number=None):
        """Moves this ticket's thread into ticket `into` and closes this one; answers with
        the ticket merged into."""
        source = self.get_object()
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        into = serializer.validated_data["into"]
        if not Ticket.objects.filter(pk=into).exists():
            raise ValidationError({"into": [f"Ticket #{into} does not exist."]})
        target = services.ticket_merge(
            source_id=source.pk, target_id=into, acting_user=request.user
        )
        return with_etag(Response(TicketSerializer(self._reloaded(target.pk)).data))
