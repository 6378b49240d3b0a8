"""REST endpoints for the SLA settings: business-hours calendars and SLA policies.

Built on the API foundation in accounts.api (token scopes, roles, the error shape, cursor
pages, rate limits, idempotency keys, ETags)."""

from django.db.models import ProtectedError

from accounts.api.concurrency import ETagDestroyModelMixin
from accounts.api.errors import Conflict
from accounts.api.viewsets import ApiModelViewSet
from accounts.models import ApiScope
from accounts.permissions import MANAGERS, SUPPORT_STAFF

from .. import services
from ..models import BusinessCalendar, SlaPolicy
from .serializers import BusinessCalendarSerializer, SlaPolicySerializer


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
