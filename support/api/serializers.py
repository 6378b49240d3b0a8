"""REST serializers for the SLA settings (business-hours calendars and SLA policies) and for
tickets, their messages and the merge command.

The SLA serializers nest their child rows (a calendar's working intervals, a policy's
targets) and write them with the parent through the services, replacing them all when they
are given on an update.
"""

from datetime import date, time

from django.utils import timezone
from rest_framework import serializers
from rest_framework.settings import api_settings

from accounts.api.serializers import (
    AllowedChoiceField,
    EmailRelatedField,
    StrictModelSerializer,
    StrictSerializer,
)
from accounts.choices import Role, Tier
from accounts.models import Team, User

from .. import selectors, services
from ..choices import Channel, Priority, SlaMetric, Status, TicketType
from ..models import (
    EXTERNAL_ID_MAX_LENGTH,
    MAX_TARGET_MINUTES,
    BusinessCalendar,
    Message,
    SlaPolicy,
    SlaTarget,
    Ticket,
    Weekday,
    WorkingInterval,
)


def choice_list(choices: list[tuple[str, str]], help_text: str) -> serializers.ListField:
    """An ArrayField of choices; empty (the default) means "any"."""
    return serializers.ListField(
        child=AllowedChoiceField(choices=choices), required=False, help_text=help_text
    )


# --- calendars ----------------------------------------------------------------------------


class WorkingIntervalSerializer(StrictModelSerializer):
    weekday = AllowedChoiceField(
        choices=Weekday.choices,
        help_text="0 = Monday ... 6 = Sunday.",
        error_messages={
            "invalid_choice": '"{input}" is not a valid weekday: use 0 (Monday) to 6 (Sunday).'
        },
    )

    class Meta:
        model = WorkingInterval
        fields = ["weekday", "start", "end"]
        extra_kwargs = {
            "start": {"help_text": "Local wall-clock time, e.g. 09:00."},
            "end": {
                "help_text": "At or before `start`: runs overnight into the next day; "
                "00:00-00:00 is the whole day."
            },
        }


# A valid stand-in schedule, to check a calendar's time zone or holidays on their own.
_WHOLE_MONDAY = (WorkingInterval(weekday=0, start=time(0), end=time(0)),)


def _calendar_error(
    time_zone: str, holidays: list[date], intervals: list[WorkingInterval]
) -> str | None:
    try:
        BusinessCalendar(time_zone=time_zone, holidays=holidays).to_calendar(
            intervals=list(intervals)
        )
    except (ValueError, TypeError) as error:  # business_hours raises TypeError for bad types
        return str(error)
    return None


def calendar_errors(
    time_zone: str, holidays: list[date], intervals: list[WorkingInterval]
) -> dict[str, list[str]]:
    """The calendar checked as a whole by the model's own rules (`to_calendar`, as the admin's
    WorkingIntervalFormSet does), one part at a time so that each message lands under the
    field it is about and several wrong parts are all reported at once."""
    checks = {
        "time_zone": (time_zone, [], _WHOLE_MONDAY),
        "holidays": ("UTC", holidays, _WHOLE_MONDAY),
        "intervals": ("UTC", [], intervals),
    }
    errors = {
        field: [message] for field, args in checks.items() if (message := _calendar_error(*args))
    }
    if not errors and (message := _calendar_error(time_zone, holidays, intervals)):
        errors[api_settings.NON_FIELD_ERRORS_KEY] = [message]
    return errors


class BusinessCalendarSerializer(StrictModelSerializer):
    intervals = WorkingIntervalSerializer(
        many=True, help_text="The weekly working hours; replaced as a whole on update."
    )
    holidays = serializers.ListField(
        child=serializers.DateField(),
        required=False,
        help_text="Local dates (YYYY-MM-DD) on which no time counts.",
    )

    class Meta:
        model = BusinessCalendar
        fields = ["id", "name", "time_zone", "holidays", "intervals"]

    def validate(self, attrs: dict) -> dict:
        current = self.instance or BusinessCalendar()
        if "intervals" in attrs:
            intervals = [WorkingInterval(**interval) for interval in attrs["intervals"]]
        elif self.instance is not None:  # PATCH without intervals: check against the saved ones
            intervals = list(self.instance.intervals.all())
        else:
            intervals = []
        errors = calendar_errors(
            attrs.get("time_zone", current.time_zone),
            attrs.get("holidays", current.holidays),
            intervals,
        )
        if errors:
            raise serializers.ValidationError(errors)
        if "holidays" in attrs:
            attrs["holidays"] = sorted(set(attrs["holidays"]))
        return attrs

    def create(self, validated_data: dict) -> BusinessCalendar:
        intervals = validated_data.pop("intervals")
        return services.business_calendar_save(
            calendar=BusinessCalendar(), fields=validated_data, intervals=intervals
        )

    def update(self, instance: BusinessCalendar, validated_data: dict) -> BusinessCalendar:
        intervals = validated_data.pop("intervals", None)
        return services.business_calendar_save(
            calendar=instance, fields=validated_data, intervals=intervals
        )


# --- policies -----------------------------------------------------------------------------


class SlaTargetSerializer(StrictModelSerializer):
    priority = AllowedChoiceField(choices=Priority.choices)
    metric = AllowedChoiceField(choices=SlaMetric.choices)
    minutes = serializers.IntegerField(
        min_value=1,
        max_value=MAX_TARGET_MINUTES,
        help_text="Business minutes (calendar minutes if the policy is 24/7).",
        error_messages={"min_value": "Minutes must be greater than 0."},
    )

    class Meta:
        model = SlaTarget
        fields = ["priority", "metric", "minutes"]


class SlaPolicySerializer(StrictModelSerializer):
    calendar = serializers.PrimaryKeyRelatedField(
        queryset=BusinessCalendar.objects.all(),
        allow_null=True,
        required=False,
        help_text="A business calendar's id; null: calendar time (24/7).",
    )
    teams = serializers.PrimaryKeyRelatedField(
        queryset=Team.objects.all(),
        many=True,
        required=False,
        help_text="Team ids; empty: any team.",
    )
    priorities = choice_list(Priority.choices, "Ticket priorities; empty: any.")
    tiers = choice_list(Tier.choices, "Account tiers; empty: any.")
    types = choice_list(TicketType.choices, "Ticket types; empty: any.")
    channels = choice_list(Channel.choices, "Ticket channels; empty: any.")
    targets = SlaTargetSerializer(
        many=True,
        required=False,
        help_text="One per priority and metric; replaced as a whole on update.",
    )

    class Meta:
        model = SlaPolicy
        fields = [
            "id",
            "name",
            "position",
            "active",
            "calendar",
            "pause_on_hold",
            "warning_margin_percent",
            "priorities",
            "tiers",
            "types",
            "channels",
            "teams",
            "targets",
        ]

    def validate_targets(self, targets: list[dict]) -> list[dict]:
        seen: set[tuple[str, str]] = set()
        for target in targets:
            key = (target["priority"], target["metric"])
            if key in seen:
                raise serializers.ValidationError(
                    f"Duplicate target: priority {key[0]!r} and metric {key[1]!r} appear more "
                    "than once; give each priority and metric one target."
                )
            seen.add(key)
        return targets

    def create(self, validated_data: dict) -> SlaPolicy:
        return services.sla_policy_save(
            policy=SlaPolicy(),
            teams=validated_data.pop("teams", []),
            targets=validated_data.pop("targets", []),
            fields=validated_data,
        )

    def update(self, instance: SlaPolicy, validated_data: dict) -> SlaPolicy:
        return services.sla_policy_save(
            policy=instance,
            teams=validated_data.pop("teams", None),
            targets=validated_data.pop("targets", None),
            fields=validated_data,
        )


# --- tickets ------------------------------------------------------------------------------


def assignable_users():
    """Staff who may be assigned tickets (the services' `_check_assignable` has the rule)."""
    return User.objects.filter(
        is_active=True, role__in=[Role.AGENT, Role.ADMIN, Role.MANAGER, Role.CSM]
    )


# What a history import may give when it creates a ticket (support/api/views.py checks who
# may: the `import` scope, an admin or a manager): its timestamps and its id in the system
# it comes from.
HISTORY_FIELDS = frozenset({"created_at", "solved_at", "external_id"})


class TicketSerializer(StrictModelSerializer):
    """A ticket, addressed by its number. `subject`, `description`, `requester` and `channel`
    are given on create only; status, priority, type, subject, tags, assignee and team may be
    changed afterwards (through support.services, with its rules). A history import may also
    give `created_at`, `solved_at` and `external_id` on create."""

    number = serializers.IntegerField(source="pk", read_only=True)
    description = serializers.CharField(
        write_only=True,
        required=False,
        max_length=services.BODY_MAX_LENGTH,
        help_text="Create only (required there): the first message, written by the requester.",
    )
    requester = serializers.EmailField(
        source="requester.email",
        required=False,
        help_text="The requester's email; create only (required there). An unknown address "
        "becomes a contact, matched to an account by its domain.",
    )
    account = serializers.PrimaryKeyRelatedField(
        read_only=True, help_text="The requester's account id (null: none)."
    )
    status = AllowedChoiceField(
        choices=Status.choices,
        required=False,
        help_text="Update only; agents may set open, pending, on_hold or solved.",
    )
    priority = AllowedChoiceField(choices=Priority.choices, required=False)
    type = AllowedChoiceField(choices=TicketType.choices, required=False)
    channel = AllowedChoiceField(
        choices=Channel.choices, required=False, help_text="Create only; default: api."
    )
    tags = serializers.ListField(
        child=serializers.CharField(max_length=services.TAG_MAX_LENGTH),
        required=False,
        help_text="Lower-cased, spaces become dashes; on update the list replaces the old one.",
    )
    assignee = EmailRelatedField(
        queryset=assignable_users(),
        allow_null=True,
        required=False,
        help_text="The assigned agent's email; null: unassigned.",
        error_messages={"does_not_exist": "No active staff member has the email {value}."},
    )
    team = serializers.PrimaryKeyRelatedField(
        queryset=Team.objects.all(),
        allow_null=True,
        required=False,
        help_text="The team's id; null: none.",
    )
    version = serializers.IntegerField(
        required=False,
        min_value=1,
        help_text="Grows by one on every change. On update: the version your change is based "
        "on (like If-Match); a newer ticket answers 409.",
    )
    created_at = serializers.DateTimeField(
        required=False,
        help_text="When the ticket was opened. Create only, and only to import history: "
        "needs a token with the `import` scope (and an admin's or manager's role; 403 "
        "otherwise); not in the future. Default: now.",
    )
    solved_at = serializers.DateTimeField(
        required=False,
        allow_null=True,
        help_text="When the ticket was last solved; null while it is not. Create only, and "
        "only to import history (the `import` scope, as for `created_at`): the ticket is "
        "solved at that moment by its assignee, or else by you; with `created_at`, not "
        "before it nor in the future.",
    )
    external_id = serializers.CharField(
        required=False,
        max_length=EXTERNAL_ID_MAX_LENGTH,
        help_text="The ticket's id in the system it was imported from (empty: not imported). "
        "Create only, and only to import history, with `created_at` (the `import` scope): a "
        "ticket already imported with the same id is refused (400).",
    )

    class Meta:
        model = Ticket
        fields = [
            "number",
            "subject",
            "description",
            "requester",
            "account",
            "status",
            "priority",
            "type",
            "channel",
            "tags",
            "assignee",
            "team",
            "version",
            "merged_into",
            "created_at",
            "first_response_at",
            "solved_at",
            "updated_at",
            "external_id",
        ]
        read_only_fields = ["merged_into", "first_response_at", "updated_at"]
        extra_kwargs = {"subject": {"required": False}}

    CREATE_ONLY = ("description", "requester", "channel", *sorted(HISTORY_FIELDS))
    UPDATE_ONLY = ("status", "version")

    def validate(self, attrs: dict) -> dict:
        errors: dict[str, list[str]] = {}
        if self.instance is None:
            for name in ("subject", "description", "requester"):
                if name not in self.initial_data:
                    errors[name] = ["This field is required."]
            for name in self.UPDATE_ONLY:
                if name in self.initial_data:
                    errors[name] = ["Cannot be given when creating a ticket."]
            errors.update(self._history_errors(attrs))
        else:
            for name in self.CREATE_ONLY:
                if name in self.initial_data:
                    errors[name] = ["Can only be given when creating a ticket."]
        if errors:
            raise serializers.ValidationError(errors)
        return attrs

    @staticmethod
    def _history_errors(attrs: dict) -> dict[str, list[str]]:
        """The historical moments must have happened, in order (support.services.imports
        holds the same rule; checked here too so that each message names its field)."""
        now = timezone.now()
        created_at, solved_at = attrs.get("created_at"), attrs.get("solved_at")
        errors = {}
        if "external_id" in attrs:
            number = selectors.ticket_number_by_external_id(attrs["external_id"])
            if number is not None:
                errors["external_id"] = [f"Already imported as ticket #{number}."]
            elif created_at is None:
                errors["external_id"] = [
                    "Give created_at too: when the imported ticket was opened."
                ]
        if created_at is not None and created_at > now:
            errors["created_at"] = ["A ticket cannot be opened in the future."]
        if solved_at is not None:
            if solved_at > now:
                errors["solved_at"] = ["A ticket cannot be solved in the future."]
            elif created_at is None:
                errors["solved_at"] = ["Give created_at too: when the solved ticket was opened."]
            elif solved_at < created_at:
                errors["solved_at"] = ["A ticket cannot be solved before it was opened."]
        return errors


class TicketMessageSerializer(StrictModelSerializer):
    """A public reply or an internal note in a ticket's thread."""

    author = serializers.SerializerMethodField(
        help_text="The email of the agent or contact who wrote it."
    )
    body = serializers.CharField(max_length=services.BODY_MAX_LENGTH, help_text="Markdown.")
    public = serializers.BooleanField(
        default=True, help_text="False: an internal note, never shown to the customer."
    )

    class Meta:
        model = Message
        fields = ["id", "body", "public", "author", "created_at"]
        read_only_fields = ["created_at"]

    def get_author(self, message: Message) -> str | None:
        author = message.author_user or message.author_contact
        return author.email if author is not None else None


class TicketMergeSerializer(StrictSerializer):
    into = serializers.IntegerField(
        min_value=1,
        max_value=2**63 - 1,
        help_text="The number of the ticket this one is merged into.",
    )
