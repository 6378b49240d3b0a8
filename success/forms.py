"""Forms of the Account 360 page: success plans, touchpoints, health override, lifecycle.

They check the shape of what was typed; the rules live in success.services, whose
ValidationErrors are put back on the form with `add_service_errors`. Choice lists that come
from the database (staff, contacts, templates) are passed in, read once per page, so a page
with many forms still runs a fixed number of queries.
"""

from __future__ import annotations

import datetime
from collections.abc import Sequence
from datetime import tzinfo

from django import forms
from django.core.exceptions import ValidationError
from django.utils import timezone

from accounts.choices import HealthBand, LifecycleStage
from accounts.forms import StyledFormMixin
from accounts.models import Contact, User

from .choices import MilestoneStatus, TouchpointKind
from .models import PlanTemplate
from .services import HEALTH_OVERRIDE_MAX_DAYS

# How far from today a plan may start: further is almost surely a typo.
PLAN_START_WITHIN_DAYS = 366


def add_service_errors(form: forms.Form, error: ValidationError) -> None:
    """Put a service's ValidationError on the form: on the named field when the form has
    it, otherwise at the top of the form."""
    if not hasattr(error, "error_dict"):
        for message in error.messages:
            form.add_error(None, message)
        return
    for name, messages in error.message_dict.items():
        for message in messages:
            form.add_error(name if name in form.fields else None, message)


class DateInput(forms.DateInput):
    input_type = "date"

    def __init__(self, attrs=None):
        super().__init__(attrs, format="%Y-%m-%d")


def _choose_among(field: forms.Field, objects: Sequence, empty_label: str | None) -> None:
    """Make a TypedChoiceField a choice among objects read once by the view (a
    ModelChoiceField would query again for every form rendered); it cleans to the object."""
    by_pk = {str(item.pk): item for item in objects}
    choices = [(str(item.pk), str(item)) for item in objects]
    if empty_label is not None:
        choices.insert(0, ("", empty_label))
    field.choices = choices
    field.coerce = by_pk.__getitem__


class PlanFromTemplateForm(StyledFormMixin, forms.Form):
    template = forms.TypedChoiceField(
        label="Template",
        error_messages={"invalid_choice": "That template no longer exists; pick another."},
    )
    start_date = forms.DateField(label="Start date", widget=DateInput())
    owner = forms.TypedChoiceField(
        label="Milestones owned by",
        required=False,
        empty_value=None,
        error_messages={"invalid_choice": "Pick someone from the list."},
    )

    def __init__(
        self,
        *args,
        templates: Sequence[PlanTemplate],
        owners: Sequence[User],
        today: datetime.date,
        **kwargs,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.today = today
        _choose_among(self.fields["template"], templates, "Pick a template…")
        _choose_among(self.fields["owner"], owners, "Nobody yet")

    def clean_start_date(self) -> datetime.date:
        start = self.cleaned_data["start_date"]
        if abs((start - self.today).days) > PLAN_START_WITHIN_DAYS:
            raise ValidationError("Start the plan within a year of today.")
        return start


class ObjectiveForm(StyledFormMixin, forms.Form):
    what = forms.CharField(label="What the customer wants to achieve", max_length=300)
    why = forms.CharField(
        label="Why it matters", required=False, widget=forms.Textarea(attrs={"rows": 2})
    )
    success_measure = forms.CharField(
        label="How we will know (success measure)", max_length=300, required=False
    )
    target_date = forms.DateField(label="Target date", required=False, widget=DateInput())


class MilestoneForm(StyledFormMixin, forms.Form):
    title = forms.CharField(label="Milestone", max_length=200)
    owner = forms.TypedChoiceField(
        label="Owner",
        required=False,
        empty_value=None,
        error_messages={"invalid_choice": "Pick someone from the list."},
    )
    due_date = forms.DateField(label="Due date", widget=DateInput())

    def __init__(self, *args, owners: Sequence[User], **kwargs) -> None:
        super().__init__(*args, **kwargs)
        _choose_among(self.fields["owner"], owners, "Nobody yet")


class MilestoneStatusForm(forms.Form):
    """The status select next to each milestone, with the status the person saw."""

    status = forms.ChoiceField(
        choices=MilestoneStatus.choices,
        error_messages={"invalid_choice": "“%(value)s” is not a milestone status."},
    )
    expected_status = forms.ChoiceField(choices=MilestoneStatus.choices, required=False)


class TouchpointForm(StyledFormMixin, forms.Form):
    kind = forms.ChoiceField(label="Kind", choices=TouchpointKind.choices)
    happened_at = forms.DateTimeField(
        label="When",
        input_formats=["%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M", "%Y-%m-%dT%H:%M:%S"],
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
        help_text="Your local time.",
    )
    participants = forms.TypedMultipleChoiceField(
        label="Who took part",
        required=False,
        widget=forms.CheckboxSelectMultiple,
        error_messages={"invalid_choice": "Only the account's own contacts can take part."},
    )
    summary = forms.CharField(
        label="Summary",
        widget=forms.Textarea(attrs={"rows": 3, "data-submit-on-ctrl-enter": ""}),
    )
    next_steps = forms.CharField(
        label="Next steps",
        required=False,
        widget=forms.Textarea(attrs={"rows": 2, "data-submit-on-ctrl-enter": ""}),
    )

    def __init__(self, *args, contacts: Sequence[Contact], zone: tzinfo | None, **kwargs):
        super().__init__(*args, **kwargs)
        self.zone = zone
        field = self.fields["participants"]
        _choose_among(field, contacts, None)
        field.choices = [(str(contact.pk), contact.name) for contact in contacts]

    def clean_happened_at(self) -> datetime.datetime:
        value = self.cleaned_data["happened_at"]
        # Typed in the person's zone (no time zone middleware: the form makes it aware).
        naive = timezone.make_naive(value) if timezone.is_aware(value) else value
        return timezone.make_aware(naive, self.zone or timezone.get_default_timezone())


class HealthOverrideForm(StyledFormMixin, forms.Form):
    band = forms.ChoiceField(label="Band", choices=HealthBand.choices)
    reason = forms.CharField(label="Why", widget=forms.Textarea(attrs={"rows": 2}), max_length=2000)
    expires_on = forms.DateField(
        label="Until",
        widget=DateInput(),
        help_text=f"At most {HEALTH_OVERRIDE_MAX_DAYS} days from today; the computed band "
        "returns the day after.",
    )


class LifecycleStageForm(StyledFormMixin, forms.Form):
    to_stage = forms.ChoiceField(label="Move to stage", choices=LifecycleStage.choices)
    note = forms.CharField(
        label="Note", required=False, max_length=2000, widget=forms.Textarea(attrs={"rows": 2})
    )


# --- NPS survey (public page, no login) ---------------------------------------------------

NPS_REASON_MAX_LENGTH = 5000
_NPS_SCORE_ERROR = "Choose a score from 0 (not at all likely) to 10 (extremely likely)."


class NpsSurveyForm(forms.Form):
    score = forms.TypedChoiceField(
        choices=[(n, str(n)) for n in range(11)],
        coerce=int,
        widget=forms.RadioSelect(attrs={"class": "btn-check"}),
        error_messages={"required": _NPS_SCORE_ERROR, "invalid_choice": _NPS_SCORE_ERROR},
    )
    reason = forms.CharField(
        label="What is the main reason for your score?",
        required=False,
        max_length=NPS_REASON_MAX_LENGTH,
        widget=forms.Textarea(attrs={"rows": 4, "class": "form-control"}),
    )
