"""REST endpoints for the SLA settings: business-hours calendars and SLA policies."""

from django.db.models import ProtectedError
from rest_framework import status, viewsets
from rest_framework.exceptions import APIException
from rest_framework.pagination import CursorPagination
from rest_framework.permissions import SAFE_METHODS, BasePermission

from accounts.permissions import MANAGERS, SUPPORT_STAFF

from .. import services
from ..models import BusinessCalendar, SlaPolicy
from .serializers import BusinessCalendarSerializer, SlaPolicySerializer


class SlaSettingsPermission(BasePermission):
    """Support staff may read the SLA settings; only admins and managers may change them.

    Customers and anonymous visitors get 403 (session authentication sends no challenge, so
    DRF answers "not authenticated" with 403 rather than 401).
    """

    message = "Your role does not give access to the SLA settings."

    def has_permission(self, request, view) -> bool:
        user = request.user
        if not (user and user.is_authenticated):
            return False
        if request.method in SAFE_METHODS:
            return user.role in SUPPORT_STAFF
        if user.role not in MANAGERS:
            if user.role in SUPPORT_STAFF:
                self.message = "Only admins and managers may change the SLA settings."
            return False
        return True


class Conflict(APIException):
    status_code = status.HTTP_409_CONFLICT
    default_detail = "The object is still in use."
    default_code = "conflict"


class ByNamePagination(CursorPagination):
    ordering = ("name",)  # unique, as cursor pagination needs
    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 200


class ByPositionPagination(CursorPagination):
    ordering = ("position",)  # unique, and the order in which policies are matched
    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 200


class BusinessCalendarViewSet(viewsets.ModelViewSet):
    """Business-hours calendars with their weekly working intervals and holidays."""

    queryset = BusinessCalendar.objects.prefetch_related("intervals")
    serializer_class = BusinessCalendarSerializer
    permission_classes = [SlaSettingsPermission]
    pagination_class = ByNamePagination

    def perform_destroy(self, instance: BusinessCalendar) -> None:
        try:
            services.sla_settings_delete(instance=instance)
        except ProtectedError as error:
            names = ", ".join(sorted(policy.name for policy in error.protected_objects))
            raise Conflict(
                f"The calendar is used by SLA policies ({names}); give them another calendar first."
            ) from None


class SlaPolicyViewSet(viewsets.ModelViewSet):
    """SLA policies, matched in `position` order, with their targets."""

    queryset = SlaPolicy.objects.prefetch_related("teams", "targets")
    serializer_class = SlaPolicySerializer
    permission_classes = [SlaSettingsPermission]
    pagination_class = ByPositionPagination

    def perform_destroy(self, instance: SlaPolicy) -> None:
        services.sla_settings_delete(instance=instance)
