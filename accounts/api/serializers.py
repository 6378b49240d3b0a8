"""Serializers for the accounts-level resources, and the strictness every API body gets.

`StrictFieldsMixin` refuses fields a serializer does not know (a typo must not be silently
ignored) and read-only fields (the client should not think it changed them).
"""

from collections.abc import Mapping

from django.db.models import QuerySet
from rest_framework import serializers

from ..choices import HealthBand, Role
from ..models import Account, Contact, Team, User


class StrictFieldsMixin:
    def to_internal_value(self, data):
        if isinstance(data, Mapping):
            writable = {name for name, field in self.fields.items() if not field.read_only}
            known = set(self.fields)
            errors = {}
            for name in data:
                if name not in known:
                    errors[name] = ["Unknown field."]
                elif name not in writable:
                    errors[name] = ["This field is read-only."]
            if errors:
                raise serializers.ValidationError(errors)
        return super().to_internal_value(data)


class StrictSerializer(StrictFieldsMixin, serializers.Serializer):
    pass


class StrictModelSerializer(StrictFieldsMixin, serializers.ModelSerializer):
    pass


class EmailRelatedField(serializers.SlugRelatedField):
    """A related user (or contact) given and shown by email address, in any case."""

    def __init__(self, **kwargs) -> None:
        kwargs.setdefault("slug_field", "email")
        super().__init__(**kwargs)

    def to_internal_value(self, data):
        if not isinstance(data, str):
            self.fail("invalid")
        queryset: QuerySet = self.get_queryset()
        found = queryset.filter(email__iexact=data.strip()).first()
        if found is None:
            self.fail("does_not_exist", slug_name="email", value=data)
        return found


class AllowedChoiceField(serializers.ChoiceField):
    """A choice field whose error names the allowed values, so a client can correct itself."""

    default_error_messages = {
        "invalid_choice": '"{input}" is not a valid choice. Allowed values: {allowed}.',
    }

    def fail(self, key: str, **kwargs) -> None:
        if key == "invalid_choice":
            kwargs["allowed"] = ", ".join(str(value) for value in self.choices)
        super().fail(key, **kwargs)


# --- accounts ----------------------------------------------------------------------------


class AccountSerializer(StrictModelSerializer):
    csm = EmailRelatedField(
        queryset=User.objects.filter(role=Role.CSM),
        allow_null=True,
        required=False,
        help_text="The CSM's email; null: none.",
        error_messages={"does_not_exist": "No CSM has the email {value}."},
    )
    domains = serializers.ListField(
        child=serializers.CharField(max_length=253),
        required=False,
        help_text="Email domains of the account's people (example.com).",
    )
    # Declared: a read-only model field loses allow_blank, and "" (not scored yet) must be
    # in the schema's enum.
    health_band = serializers.ChoiceField(
        choices=[("", "Not scored yet"), *HealthBand.choices],
        read_only=True,
        help_text='green, yellow or red; "" while the account has no health score.',
    )
    tier = AllowedChoiceField(choices=Account._meta.get_field("tier").choices, required=False)
    lifecycle_stage = AllowedChoiceField(
        choices=Account._meta.get_field("lifecycle_stage").choices, required=False
    )
    mrr = serializers.DecimalField(max_digits=12, decimal_places=2, min_value=0, required=False)

    class Meta:
        model = Account
        fields = [
            "id",
            "name",
            "domains",
            "tier",
            "segment",
            "lifecycle_stage",
            "csm",
            "mrr",
            "seats",
            "renewal_date",
            "health_score",
            "health_band",
            "health_updated_at",
            "created_at",
            "updated_at",
        ]
        read_only_fields = [
            "health_score",
            "health_updated_at",
            "created_at",
            "updated_at",
        ]

    def validate_domains(self, domains: list[str]) -> list[str]:
        cleaned = sorted({domain.strip().lower().lstrip("@") for domain in domains})
        bad = [d for d in cleaned if "." not in d or "@" in d or " " in d or not d]
        if bad:
            raise serializers.ValidationError(
                f"Not an email domain: {', '.join(bad)} (write it as example.com)."
            )
        return cleaned


# --- contacts ----------------------------------------------------------------------------


class ContactSerializer(StrictModelSerializer):
    account = serializers.PrimaryKeyRelatedField(
        queryset=Account.objects.all(),
        allow_null=True,
        required=False,
        help_text="The account's id; left out on create: matched by the email's domain.",
    )
    portal_login = serializers.SerializerMethodField(
        help_text="Whether the contact may sign in to the portal."
    )

    class Meta:
        model = Contact
        fields = [
            "id",
            "name",
            "email",
            "account",
            "title",
            "phone",
            "is_account_admin",
            "portal_login",
            "created_at",
            "updated_at",
        ]
        read_only_fields = ["created_at", "updated_at"]
        # The case-insensitive uniqueness is checked by the service, in one place.
        extra_kwargs = {"email": {"validators": []}, "name": {"required": False}}

    def get_portal_login(self, contact: Contact) -> bool:
        return contact.user_id is not None


# --- users -------------------------------------------------------------------------------

STAFF_ROLE_CHOICES = [(value, label) for value, label in Role.choices if value != Role.CUSTOMER]


class UserSerializer(StrictModelSerializer):
    name = serializers.CharField(source="full_name", max_length=150)
    role = AllowedChoiceField(choices=STAFF_ROLE_CHOICES)
    teams = serializers.SlugRelatedField(
        slug_field="name",
        queryset=Team.objects.all(),
        many=True,
        required=False,
        help_text="Team names.",
    )

    class Meta:
        model = User
        fields = ["id", "email", "name", "role", "teams", "is_active", "date_joined"]
        read_only_fields = ["date_joined"]
        extra_kwargs = {"email": {"validators": []}}

    def validate_email(self, email: str) -> str:
        email = email.strip().lower()
        if self.instance is not None and email != self.instance.email:
            raise serializers.ValidationError("A user's email cannot be changed here.")
        if self.instance is None and User.objects.filter(email__iexact=email).exists():
            raise serializers.ValidationError("A user with this email already exists.")
        return email
