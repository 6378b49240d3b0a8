"""Forms of the customer portal. They check shape only; `support.services` holds the rules
and the views put its `ValidationError`s back on these forms."""

from __future__ import annotations

from django import forms
from django.contrib.auth import authenticate
from django.contrib.auth import forms as auth_forms

from accounts.choices import Role
from accounts.forms import StyledFormMixin

from . import services
from .models import SUBJECT_MAX_LENGTH
from .ticket_forms import MultipleFileField


class SignInLinkForm(StyledFormMixin, forms.Form):
    email = forms.EmailField(
        label="Email",
        max_length=254,
        widget=forms.EmailInput(attrs={"autofocus": True, "autocomplete": "email"}),
        error_messages={
            "required": "Enter your email address.",
            "invalid": "Enter a valid email address.",
        },
    )


class PortalPasswordSignInForm(StyledFormMixin, forms.Form):
    """Email and password of a customer who set one. Staff sign in on the staff page."""

    email = forms.EmailField(
        label="Email", max_length=254, widget=forms.EmailInput(attrs={"autocomplete": "email"})
    )
    password = forms.CharField(
        label="Password",
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}),
    )

    def __init__(self, *args, request=None, **kwargs) -> None:
        self.request = request
        self.user = None
        super().__init__(*args, **kwargs)

    def clean(self) -> dict:
        data = super().clean()
        if self.errors:
            return data
        user = authenticate(self.request, username=data["email"], password=data["password"])
        if user is None or user.role != Role.CUSTOMER or not hasattr(user, "contact"):
            raise forms.ValidationError(
                "That email and password do not match. You can ask for a sign-in link instead."
            )
        self.user = user
        return data


class PortalSetPasswordForm(StyledFormMixin, auth_forms.SetPasswordForm):
    pass


class PortalReplyForm(StyledFormMixin, forms.Form):
    body = forms.CharField(
        label="Your reply",
        strip=False,
        max_length=services.BODY_MAX_LENGTH,
        error_messages={"required": "Write a message first."},
        widget=forms.Textarea(attrs={"rows": 5, "data-submit-on-ctrl-enter": ""}),
    )
    attachments = MultipleFileField(label="Attach files")


class PortalTicketForm(StyledFormMixin, forms.Form):
    subject = forms.CharField(
        label="Subject",
        max_length=SUBJECT_MAX_LENGTH,
        error_messages={"required": "A subject is required."},
        widget=forms.TextInput(attrs={"autocomplete": "off"}),
    )
    body = forms.CharField(
        label="Describe the problem",
        strip=False,
        max_length=services.BODY_MAX_LENGTH,
        error_messages={"required": "Describe what happened, so we can help."},
        widget=forms.Textarea(attrs={"rows": 8, "data-submit-on-ctrl-enter": ""}),
        help_text="What you did, what you expected, and what happened instead.",
    )
    attachments = MultipleFileField(label="Attach files")
