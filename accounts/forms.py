from django import forms
from django.contrib.auth import forms as auth_forms
from django.contrib.auth.forms import AuthenticationForm


class StyledFormMixin:
    """Gives widgets the stylesheet's classes and marks fields with errors as invalid.

    Used by every form in the project so templates stay one line per field.
    """

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        for field in self.fields.values():
            widget = field.widget
            if isinstance(widget, forms.CheckboxInput | forms.CheckboxSelectMultiple):
                css = "form-check-input"
            elif isinstance(widget, forms.Select | forms.SelectMultiple):
                css = "form-select"
            else:
                css = "form-control"
            widget.attrs["class"] = f"{widget.attrs.get('class', '')} {css}".strip()

    def full_clean(self) -> None:
        super().full_clean()
        for name in self.errors:
            if name in self.fields:
                widget = self.fields[name].widget
                widget.attrs["class"] = f"{widget.attrs.get('class', '')} is-invalid".strip()
                widget.attrs["aria-invalid"] = "true"


class EmailLoginForm(StyledFormMixin, AuthenticationForm):
    username = forms.EmailField(
        label="Email", widget=forms.EmailInput(attrs={"autofocus": True, "autocomplete": "email"})
    )


class PasswordResetForm(StyledFormMixin, auth_forms.PasswordResetForm):
    pass


class SetPasswordForm(StyledFormMixin, auth_forms.SetPasswordForm):
    pass


class PasswordChangeForm(StyledFormMixin, auth_forms.PasswordChangeForm):
    pass
