from django import forms
from django.contrib.auth import forms as auth_forms
from django.contrib.auth.forms import AuthenticationForm
from django.forms.utils import flatatt
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString


class _PythonRenderedInput:
    """Renders an <input> in Python, the same HTML as Django's widget template."""

    def render(self, name, value, attrs=None, renderer=None) -> SafeString:
        widget = self.get_context(name, value, attrs)["widget"]
        shown = "" if widget["value"] is None else format_html(' value="{}"', widget["value"])
        return format_html(
            '<input type="{}" name="{}"{}{}>',
            widget["type"],
            widget["name"],
            shown,
            flatatt(widget["attrs"]),
        )


class _PythonRenderedSelect:
    """Renders a <select> in Python, the same HTML as Django's widget template, which
    includes a template per option: forms on the queue page are rendered on every refresh,
    and a select of sixty agents cost several milliseconds that way."""

    def render(self, name, value, attrs=None, renderer=None) -> SafeString:
        widget = self.get_context(name, value, attrs)["widget"]
        groups = []
        for group_name, options, _index in widget["optgroups"]:
            html = format_html_join(
                "",
                '<option value="{}"{}>{}</option>',
                (
                    (option["value"], flatatt(option["attrs"]), option["label"])
                    for option in options
                ),
            )
            if group_name:
                html = format_html('<optgroup label="{}">{}</optgroup>', group_name, html)
            groups.append(html)
        return format_html(
            '<select name="{}"{}>{}</select>',
            widget["name"],
            flatatt(widget["attrs"]),
            format_html_join("", "{}", ((group,) for group in groups)),
        )


# Widgets rendered in Python by StyledFormMixin (exact classes only: subclasses may have
# templates of their own).
_PYTHON_RENDERED = {
    cls: type(cls.__name__, (mixin, cls), {})
    for cls, mixin in [
        (forms.TextInput, _PythonRenderedInput),
        (forms.HiddenInput, _PythonRenderedInput),
        (forms.EmailInput, _PythonRenderedInput),
        (forms.NumberInput, _PythonRenderedInput),
        (forms.Select, _PythonRenderedSelect),
    ]
}


class StyledFormMixin:
    """Gives widgets the stylesheet's classes and marks fields with errors as invalid.

    Used by every form in the project so templates stay one line per field.
    """

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        for field in self.fields.values():
            widget = field.widget
            if type(widget) in _PYTHON_RENDERED:
                widget.__class__ = _PYTHON_RENDERED[type(widget)]
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
