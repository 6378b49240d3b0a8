"""History import over the API: `POST /api/v1/import/tickets/` (the `import` scope).

The body is one ticket record with its history and historical timestamps (created_at,
solved_at, messages' created_at and author) — the format of `manage.py import_history`,
documented in support/services/imports.py — replayed through the same services as live
use. Only tokens with the `import` scope (and admins or managers) may set timestamps; so it
is on the tickets API's create, which replays a ticket given `created_at` (and `solved_at`)
through the same ticket_import."""

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response
from rest_framework.settings import api_settings

from accounts.api.viewsets import ApiView
from accounts.models import ApiScope
from accounts.permissions import MANAGERS

from .. import selectors
from ..services.imports import ImportRejected, ticket_import
from .serializers import TicketSerializer


class TicketImportView(ApiView):
    """Import one historical ticket with its messages and status changes."""

    required_scopes = {"POST": ApiScope.IMPORT}
    read_roles = MANAGERS
    write_roles = MANAGERS
    role_message = "Only admins and managers may import history."

    @extend_schema(
        summary="Import a historical ticket (with its history)",
        request=OpenApiTypes.OBJECT,
        responses={201: TicketSerializer},
    )
    def post(self, request):
        try:
            ticket = ticket_import(record=request.data)
        except ImportRejected as error:
            raise ValidationError({api_settings.NON_FIELD_ERRORS_KEY: [str(error)]}) from None
        ticket = selectors.ticket_api_queryset().get(pk=ticket.pk)
        return Response(TicketSerializer(ticket).data, status=status.HTTP_201_CREATED)
