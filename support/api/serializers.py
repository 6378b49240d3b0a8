"""REST serializers for the SLA settings: business-hours calendars and SLA policies.

Both nest their child rows (a calendar's working intervals, a policy's targets) and write
them with the parent through the services, replacing them all when they are given on an
update.
"""

from datetime import date, time

from rest_framework import serializers
from rest_framework.settings import api_settings

from accounts.api.serializers import AllowedChoiceField, StrictModelSerializer
from accounts.choices import Tier
from accounts.models import Team

from .. import services
from ..choices import Channel, Priority, SlaMetric, TicketType
from ..models import (
    MAX_TARGET_MINUTES,
    BusinessCalendar,
    SlaPolicy,
    SlaTarget,
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
