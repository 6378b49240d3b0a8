"""REST endpoints for the CRM core: accounts, contacts and (admins only) staff users.

Every write goes through accounts.services, as the HTML views' do.
"""

from django.db.models import QuerySet
from drf_spectacular.utils import extend_schema, extend_schema_view

from .. import services
from ..choices import Role
from ..filters import AccountFilter, ContactFilter, UserFilter
from ..models import Account, ApiScope, Contact, User
from ..permissions import STAFF, SUCCESS_STAFF
from .serializers import AccountSerializer, ContactSerializer, UserSerializer
from .viewsets import ApiModelViewSet


@extend_schema_view(
    list=extend_schema(summary="List accounts"),
    create=extend_schema(summary="Create an account"),
    retrieve=extend_schema(summary="Get an account"),
    update=extend_schema(summary="Replace an account's fields"),
    partial_update=extend_schema(summary="Change some of an account's fields"),
)
class AccountViewSet(ApiModelViewSet):
    """Customer accounts with their current health score and band. All staff may read;
    admins, managers and CSMs may create and change them."""

    queryset = Account.objects.select_related("csm").order_by("pk")
    serializer_class = AccountSerializer
    filterset_class = AccountFilter
    read_scope = ApiScope.ACCOUNTS_READ
    write_scope = ApiScope.ACCOUNTS_WRITE
    read_roles = STAFF
    write_roles = SUCCESS_STAFF
    write_role_message = "Only admins, managers and CSMs may change accounts."

    def perform_create(self, serializer) -> None:
        serializer.instance = services.account_create(**serializer.validated_data)

    def perform_update(self, serializer) -> None:
        serializer.instance = services.account_update(
            account=serializer.instance, acting_user=self.request.user, **serializer.validated_data
        )


@extend_schema_view(
    list=extend_schema(summary="List contacts"),
    create=extend_schema(summary="Create a contact"),
    retrieve=extend_schema(summary="Get a contact"),
    update=extend_schema(summary="Replace a contact's fields"),
    partial_update=extend_schema(summary="Change some of a contact's fields"),
)
class ContactViewSet(ApiModelViewSet):
    """People at customers. All staff may read, create and change them."""

    queryset = Contact.objects.order_by("pk")
    serializer_class = ContactSerializer
    filterset_class = ContactFilter
    read_scope = ApiScope.ACCOUNTS_READ
    write_scope = ApiScope.ACCOUNTS_WRITE
    read_roles = STAFF
    write_roles = STAFF

    def perform_create(self, serializer) -> None:
        serializer.instance = services.contact_create(**serializer.validated_data)

    def perform_update(self, serializer) -> None:
        serializer.instance = services.contact_update(
            contact=serializer.instance, **serializer.validated_data
        )


@extend_schema_view(
    list=extend_schema(summary="List staff users"),
    create=extend_schema(summary="Create a staff user"),
    retrieve=extend_schema(summary="Get a staff user"),
    update=extend_schema(summary="Replace a staff user's fields"),
    partial_update=extend_schema(summary="Change some of a staff user's fields"),
)
class UserViewSet(ApiModelViewSet):
    """Our staff (not customers' logins). Admins only, with the `admin` scope. A new user
    has no password: they set one through "Forgot your password?"."""

    serializer_class = UserSerializer
    filterset_class = UserFilter
    required_scopes = {"*": ApiScope.ADMIN}
    read_roles = write_roles = (Role.ADMIN,)
    role_message = "Only admins may manage users."

    def get_queryset(self) -> QuerySet[User]:
        return User.objects.exclude(role=Role.CUSTOMER).prefetch_related("teams").order_by("pk")

    def perform_create(self, serializer) -> None:
        data = serializer.validated_data
        serializer.instance = services.staff_user_create(
            email=data["email"],
            full_name=data["full_name"],
            role=data["role"],
            teams=data.get("teams"),
        )

    def perform_update(self, serializer) -> None:
        data = dict(serializer.validated_data)
        data.pop("email", None)
        serializer.instance = services.staff_user_update(user=serializer.instance, **data)
