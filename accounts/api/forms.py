"""The profile page's form for creating an API token."""

from datetime import timedelta

from django import forms
from django.utils import timezone

from ..forms import StyledFormMixin
from ..models import ApiScope

EXPIRY_CHOICES = [("", "Never"), ("30", "In 30 days"), ("90", "In 90 days"), ("365", "In a year")]


class ApiTokenForm(StyledFormMixin, forms.Form):
    name = forms.CharField(
        max_length=100,
        help_text="What uses it, e.g. “Billing sync”.",
        widget=forms.TextInput(attrs={"autocomplete": "off"}),
    )
    scopes = forms.MultipleChoiceField(
        choices=ApiScope.choices,
        widget=forms.CheckboxSelectMultiple,
        help_text="Grant only what it needs; your role still limits what it can do.",
        error_messages={"required": "Choose at least one scope."},
    )
    expires_in_days = forms.TypedChoiceField(
        label="Expires",
        choices=EXPIRY_CHOICES,
        coerce=int,
        empty_value=None,
        required=False,
    )

    def expires_at(self):
        days = self.cleaned_data.get("expires_in_days")
        return timezone.now() + timedelta(days=days) if days else None
