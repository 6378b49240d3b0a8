"""Forms of the ticket page: the composer, the properties panel, merge, and “new ticket”.

Forms only check shape (required, lengths, choices, file sizes); the rules live in
`support.services`, whose `ValidationError`s the views put back on these forms.
"""

from __future__ import annotations

from django import forms
from django.core.exceptions import ValidationError
from django.db.models import Q, QuerySet

from accounts.choices import Role, TeamKind
from accounts.forms import StyledFormMixin
from accounts.models import Team, User

from . import services
from .choices import AGENT_SETTABLE, Channel, Priority, Status, TicketType
from .models import SUBJECT_MAX_LENGTH, Macro, Ticket

ASSIGNABLE_ROLES = (Role.AGENT, Role.ADMIN, Role.MANAGER, Role.CSM)
KEEP = ("", "— keep as is —")


class MultipleFileInput(forms.FileInput):
    allow_multiple_selected = True


class MultipleFileField(forms.FileField):
    """Any number of files (Django's documented pattern for `<input multiple>`)."""

    def __init__(self, *args, **kwargs) -> None:
        kwargs.setdefault("widget", MultipleFileInput())
        kwargs.setdefault("required", False)
        # Empty files are refused by services.clean_attachments, whose message names the file.
        kwargs.setdefault("allow_empty_file", True)
        super().__init__(*args, **kwargs)

    def clean(self, data, initial=None) -> list:
        if isinstance(data, list | tuple):
            return [super(MultipleFileField, self).clean(item, initial) for item in data if item]
        return [super().clean(data, initial)] if data else []


def split_tags(value: str) -> list[str]:
    return [tag for tag in (part.strip() for part in (value or "").split(",")) if tag]


def _clean_with_service(check, value):
    """Run a services.clean_* helper, its error dict becoming the calling field's errors."""
    try:
        return check(value)
    except ValidationError as error:
        if hasattr(error, "error_dict"):
            raise ValidationError(
                [e for errors in error.error_dict.values() for e in errors]
            ) from None
        raise


def add_service_errors(form: forms.Form, error: ValidationError, aliases=None) -> None:
    """Put a service's ValidationError on the form: on the named field when the form has
    it (or an alias of it), otherwise at the top of the form."""
    aliases = aliases or {}
    if not hasattr(error, "error_dict"):
        for message in error.messages:
            form.add_error(None, message)
        return
    for name, errors in error.message_dict.items():
        target = aliases.get(name, name)
        for message in errors:
            form.add_error(target if target in form.fields else None, message)


# --- the composer -------------------------------------------------------------------------


class ReplyForm(StyledFormMixin, forms.Form):
    """A public reply or internal note, optionally changing status, priority and tags."""

    public = forms.TypedChoiceField(
        label="Type",
        choices=[("1", "Reply"), ("0", "Internal note")],
        coerce=lambda value: value == "1",
        initial="1",
        widget=forms.RadioSelect,
    )
    body = forms.CharField(
        label="Message",
        strip=False,
        max_length=services.BODY_MAX_LENGTH,
        error_messages={
            "required": "Write a message first.",
            "max_length": f"Messages are limited to {services.BODY_MAX_LENGTH:,} characters "
            "(this one has %(show_value)s).",
        },
        widget=forms.Textarea(
            attrs={
                "rows": 6,
                "data-submit-on-ctrl-enter": "",
                "placeholder": "Write in Markdown…",
            }
        ),
    )
    status = forms.ChoiceField(
        label="and set status to",
        required=False,
        choices=[KEEP, *[(s.value, s.label) for s in AGENT_SETTABLE]],
    )
    priority = forms.ChoiceField(
        label="Priority", required=False, choices=[KEEP, *Priority.choices]
    )
    add_tags = forms.CharField(
        label="Add tags",
        required=False,
        max_length=500,
        widget=forms.TextInput(attrs={"placeholder": "billing, vip"}),
    )
    attachments = MultipleFileField(label="Attach files")
    seen_message_id = forms.IntegerField(required=False, widget=forms.HiddenInput)
    version = forms.IntegerField(required=False, widget=forms.HiddenInput)
    # The macro that filled the composer, if any: recorded in the ticket's history.
    macro = forms.ModelChoiceField(
        queryset=Macro.objects.filter(active=True), required=False, widget=forms.HiddenInput
    )

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        # The mode toggle is drawn as a button group, not a form control.
        self.fields["public"].widget.attrs["class"] = "btn-check"

    def clean_body(self) -> str:
        return _clean_with_service(services.clean_body, self.cleaned_data["body"])

    def clean_add_tags(self) -> list[str]:
        return _clean_with_service(services.clean_tags, split_tags(self.cleaned_data["add_tags"]))

    def clean_attachments(self) -> list:
        files = self.cleaned_data["attachments"]
        _clean_with_service(services.clean_attachments, files)
        return files

    @property
    def is_note(self) -> bool:
        value = self["public"].value()
        return str(value) in {"0", "False", "false"}

    def changes_properties(self) -> bool:
        data = self.cleaned_data
        return bool(data.get("status") or data.get("priority") or data.get("add_tags"))


# --- the properties panel -----------------------------------------------------------------


def assignable_users(*, keep: int | None = None) -> QuerySet[User]:
    """Staff who may be assigned tickets (and `keep`, the current assignee, whoever it is,
    so that saving other fields does not fail on them)."""
    return (
        User.objects.filter(Q(is_active=True, role__in=ASSIGNABLE_ROLES) | Q(pk=keep))
        .only("pk", "full_name", "email")
        .order_by("full_name", "pk")
    )


def support_teams(*, keep: int | None = None) -> QuerySet[Team]:
    """Teams that work tickets (and `keep`, the ticket's current team)."""
    return (
        Team.objects.filter(Q(kind=TeamKind.SUPPORT) | Q(pk=keep))
        .only("pk", "name")
        .order_by("name")
    )


class TicketPropertiesForm(StyledFormMixin, forms.Form):
    """Status, priority, type, assignee, team and tags, saved only if `version` is current."""

    status = forms.ChoiceField(label="Status")
    priority = forms.ChoiceField(label="Priority", choices=Priority.choices)
    type = forms.ChoiceField(label="Type", choices=TicketType.choices)
    assignee = forms.ModelChoiceField(
        label="Assignee", queryset=User.objects.none(), required=False, empty_label="Unassigned"
    )
    team = forms.ModelChoiceField(
        label="Team", queryset=Team.objects.none(), required=False, empty_label="No team"
    )
    tags = forms.CharField(
        label="Tags",
        required=False,
        max_length=1000,
        help_text="Separated by commas.",
    )
    version = forms.IntegerField(widget=forms.HiddenInput)

    def __init__(self, *args, ticket: Ticket, **kwargs) -> None:
        kwargs.setdefault("initial", self.initial_for(ticket))
        super().__init__(*args, **kwargs)
        self.ticket = ticket
        # `new` and `closed` are reached only by the rules; show them only when current.
        settable = [s.value for s in AGENT_SETTABLE]
        self.fields["status"].choices = [
            (s.value, s.label) for s in Status if s.value in settable or s == ticket.status
        ]
        self.fields["assignee"].queryset = assignable_users(keep=ticket.assignee_id)
        self.fields["team"].queryset = support_teams(keep=ticket.team_id)

    @staticmethod
    def initial_for(ticket: Ticket) -> dict:
        return {
            "status": ticket.status,
            "priority": ticket.priority,
            "type": ticket.type,
            "assignee": ticket.assignee_id,
            "team": ticket.team_id,
            "tags": ", ".join(ticket.tags),
            "version": ticket.version,
        }

    def clean_tags(self) -> list[str]:
        return _clean_with_service(services.clean_tags, split_tags(self.cleaned_data["tags"]))

    def changes(self) -> dict[str, object]:
        """The fields whose submitted value differs from the ticket's, for ticket_update."""
        data, ticket = self.cleaned_data, self.ticket
        current = {
            "status": ticket.status,
            "priority": ticket.priority,
            "type": ticket.type,
            "assignee": ticket.assignee_id,
            "team": ticket.team_id,
            "tags": list(ticket.tags),
        }
        changed: dict[str, object] = {}
        for name, old in current.items():
            new = data[name]
            comparable = new.pk if isinstance(new, User | Team) else new
            if comparable != old:
                changed[name] = new
        return changed


# --- merge and create ----------------------------------------------------------------------


class MergeForm(StyledFormMixin, forms.Form):
    target = forms.IntegerField(
        label="Merge into #",
        min_value=1,
        error_messages={
            "required": "Enter the number of the ticket to merge into.",
            "invalid": "Enter a ticket number, like 1042.",
        },
        widget=forms.NumberInput(attrs={"placeholder": "Ticket number"}),
    )

    def clean_target(self) -> int:
        value = self.cleaned_data["target"]
        if value > 2**63 - 1:
            raise ValidationError(f"There is no ticket #{value}.")
        return value


class TicketCreateForm(StyledFormMixin, forms.Form):
    """An agent opens a ticket for a customer (phone call, chat, walk-in email)."""

    requester_email = forms.EmailField(
        label="Requester email",
        help_text="Unknown addresses become new contacts (matched to an account by domain).",
    )
    requester_name = forms.CharField(
        label="Requester name",
        required=False,
        max_length=150,
        help_text="Used only when the contact is new.",
    )
    subject = forms.CharField(label="Subject", max_length=SUBJECT_MAX_LENGTH)
    body = forms.CharField(
        label="Description",
        strip=False,
        max_length=services.BODY_MAX_LENGTH,
        error_messages={"required": "Write what the customer needs."},
        widget=forms.Textarea(attrs={"rows": 8, "data-submit-on-ctrl-enter": ""}),
    )
    priority = forms.ChoiceField(
        label="Priority", choices=Priority.choices, initial=Priority.NORMAL
    )
    type = forms.ChoiceField(label="Type", choices=TicketType.choices, initial=TicketType.QUESTION)
    channel = forms.ChoiceField(
        label="Channel",
        choices=[(c.value, c.label) for c in Channel if c != Channel.API],
        initial=Channel.PHONE,
    )
    team = forms.ModelChoiceField(
        label="Team", queryset=Team.objects.none(), required=False, empty_label="No team"
    )
    attachments = MultipleFileField(label="Attach files")

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["team"].queryset = support_teams()

    def clean_subject(self) -> str:
        return _clean_with_service(services.clean_subject, self.cleaned_data["subject"])

    def clean_body(self) -> str:
        return _clean_with_service(services.clean_body, self.cleaned_data["body"])

    def clean_attachments(self) -> list:
        files = self.cleaned_data["attachments"]
        _clean_with_service(services.clean_attachments, files)
        return files
