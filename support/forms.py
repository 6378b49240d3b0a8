"""Forms of the ticket queue: bulk changes to selected tickets and saving a view.

(The ticket page's forms live in `support/ticket_forms.py`.)
"""

from __future__ import annotations

from django import forms
from django.forms.models import ModelChoiceIterator
from django.http import QueryDict

from accounts.choices import Role
from accounts.forms import StyledFormMixin
from accounts.models import User

from .choices import AGENT_SETTABLE, Priority
from .filters import UNASSIGNED, AssigneeChoiceField
from .models import SavedView
from .services import TAG_MAX_LENGTH

BULK_MAX_TICKETS = 500
# Parameters that say where in a list one is, not what the list is.
NOT_PART_OF_A_VIEW = ("cursor",)


def canonical_query(params: QueryDict) -> str:
    """The query string that names a list: empty values and the page position dropped,
    keys sorted, so two spellings of the same list compare equal."""
    kept = QueryDict(mutable=True)
    for key in sorted(params):
        if key in NOT_PART_OF_A_VIEW:
            continue
        values = [value for value in params.getlist(key) if value.strip()]
        if values:
            kept.setlist(key, values)
    return kept.urlencode()


class TicketIdsField(forms.Field):
    """Ticket numbers ticked in the queue (repeated `tickets=` values)."""

    widget = forms.MultipleHiddenInput
    default_error_messages = {
        "required": "Select at least one ticket first.",
        "invalid": "“%(value)s” is not a ticket number.",
        "too_many": "Select at most %(limit)s tickets at a time.",
    }

    def to_python(self, value) -> list[int]:
        if not value:
            return []
        values = value if isinstance(value, list | tuple) else [value]
        numbers: list[int] = []
        for item in values:
            try:
                number = int(str(item).strip().lstrip("#"))
            except ValueError:
                raise forms.ValidationError(
                    self.error_messages["invalid"], code="invalid", params={"value": item}
                ) from None
            if number < 1:
                raise forms.ValidationError(
                    self.error_messages["invalid"], code="invalid", params={"value": item}
                )
            if number not in numbers:
                numbers.append(number)
        return numbers

    def validate(self, value: list[int]) -> None:
        super().validate(value)
        if len(value) > BULK_MAX_TICKETS:
            raise forms.ValidationError(
                self.error_messages["too_many"],
                code="too_many",
                params={"limit": BULK_MAX_TICKETS},
            )


class _AssigneeChoices(ModelChoiceIterator):
    """Agents, with an “Unassign” choice right after the empty (“no change”) one."""

    def __iter__(self):
        choices = super().__iter__()
        if self.field.empty_label is not None:
            yield next(choices)
        yield (UNASSIGNED, "Unassign")
        yield from choices

    def __len__(self) -> int:
        return super().__len__() + 1


class BulkAssigneeField(AssigneeChoiceField):
    iterator = _AssigneeChoices


def assignable_users():
    return User.objects.filter(
        is_active=True, role__in=[Role.AGENT, Role.ADMIN, Role.MANAGER, Role.CSM]
    ).only("pk", "full_name", "email")


class BulkActionForm(StyledFormMixin, forms.Form):
    """One change applied to the selected tickets; empty fields mean “leave as is”."""

    tickets = TicketIdsField()
    assignee = BulkAssigneeField(
        queryset=assignable_users(),
        required=False,
        empty_label="Assignee…",
        label="Assign to",
        error_messages={
            "invalid_choice": "That person does not exist or cannot be assigned tickets.",
        },
    )
    status = forms.ChoiceField(
        choices=[("", "Status…"), *[(s.value, s.label) for s in AGENT_SETTABLE]],
        required=False,
        label="Set status",
        error_messages={"invalid_choice": "“%(value)s” is not a status agents can set."},
    )
    priority = forms.ChoiceField(
        choices=[("", "Priority…"), *Priority.choices],
        required=False,
        label="Set priority",
        error_messages={"invalid_choice": "“%(value)s” is not a priority."},
    )
    add_tag = forms.CharField(
        max_length=TAG_MAX_LENGTH,
        required=False,
        label="Add tag",
        widget=forms.TextInput(attrs={"placeholder": "Add tag…", "autocomplete": "off"}),
    )
    # The queue's query string, to come back to the same list afterwards.
    query = forms.CharField(required=False, max_length=2000, widget=forms.HiddenInput)

    def __init__(self, *args, **kwargs) -> None:
        kwargs.setdefault("auto_id", "bulk_%s")  # the filter bar on the same page uses id_%s
        super().__init__(*args, **kwargs)
        for name in ("assignee", "status", "priority", "add_tag"):
            widget = self.fields[name].widget
            widget.attrs["class"] += (
                " form-select-sm" if "form-select" in widget.attrs["class"] else " form-control-sm"
            )
            widget.attrs["aria-label"] = self.fields[name].label

    def clean_add_tag(self) -> str:
        return "-".join(self.cleaned_data["add_tag"].strip().lower().split())

    def clean_query(self) -> str:
        return QueryDict(self.cleaned_data["query"].lstrip("?")).urlencode()

    def clean(self) -> dict:
        data = super().clean()
        if not self.errors and not any(
            data.get(name) for name in ("assignee", "status", "priority", "add_tag")
        ):
            raise forms.ValidationError(
                "Choose a change to apply: an assignee, a status, a priority or a tag."
            )
        return data

    def service_arguments(self) -> dict:
        """Keyword arguments for `tickets_bulk_update`."""
        data = self.cleaned_data
        return {
            "ticket_ids": data["tickets"],
            "assignee": data["assignee"] if isinstance(data["assignee"], User) else None,
            "unassign": data["assignee"] == UNASSIGNED,
            "status": data["status"] or None,
            "priority": data["priority"] or None,
            "add_tags": [data["add_tag"]] if data["add_tag"] else [],
        }

    def describe(self, count: int) -> str:
        """“12 tickets assigned to Alex Agent and set to Pending”."""
        data = self.cleaned_data
        changes = []
        if isinstance(data["assignee"], User):
            changes.append(f"assigned to {data['assignee']}")
        elif data["assignee"] == UNASSIGNED:
            changes.append("unassigned")
        if data["status"]:
            changes.append(f"set to {dict(self.fields['status'].choices)[data['status']]}")
        if data["priority"]:
            changes.append(f"set to {Priority(data['priority']).label} priority")
        if data["add_tag"]:
            changes.append(f"tagged “{data['add_tag']}”")
        said = changes[0] if len(changes) == 1 else f"{', '.join(changes[:-1])} and {changes[-1]}"
        return f"{count} ticket{'s' if count != 1 else ''} {said}"


class SavedViewForm(StyledFormMixin, forms.ModelForm):
    """Save the queue's current filters under a name, as a tab of one's own."""

    class Meta:
        model = SavedView
        fields = ["name", "query"]
        widgets = {
            "name": forms.TextInput(attrs={"placeholder": "Name this view", "autocomplete": "off"}),
            "query": forms.HiddenInput,
        }
        labels = {"name": "View name"}

    def __init__(self, *args, owner: User, **kwargs) -> None:
        kwargs.setdefault("auto_id", "saved_view_%s")
        super().__init__(*args, **kwargs)
        self.instance.owner = owner
        self.fields["name"].widget.attrs["class"] += " form-control-sm"
        self.fields["query"].required = False

    def clean_name(self) -> str:
        name = " ".join(self.cleaned_data["name"].split())
        if not name:
            raise forms.ValidationError("Give the view a name.")
        taken = SavedView.objects.filter(owner=self.instance.owner, name__iexact=name)
        if self.instance.pk:
            taken = taken.exclude(pk=self.instance.pk)
        if taken.exists():
            raise forms.ValidationError(f"You already have a view named “{name}”.")
        return name

    def clean_query(self) -> str:
        query = canonical_query(QueryDict(self.cleaned_data["query"].lstrip("?")))
        if len(query) > SavedView._meta.get_field("query").max_length:
            raise forms.ValidationError("These filters are too long to save as a view.")
        return query
