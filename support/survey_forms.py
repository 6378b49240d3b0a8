"""The CSAT survey form (the page a customer reaches from the solved-ticket email)."""

from django import forms

COMMENT_MAX_LENGTH = 5000

_RATING_ERROR = "Choose a rating from 1 (very dissatisfied) to 5 (very satisfied)."
_CES_ERROR = "Choose an answer from 1 (strongly disagree) to 7 (strongly agree)."


class CsatForm(forms.Form):
    rating = forms.TypedChoiceField(
        label="How would you rate the support you received?",
        choices=[
            (1, "Very dissatisfied"),
            (2, "Dissatisfied"),
            (3, "Neutral"),
            (4, "Satisfied"),
            (5, "Very satisfied"),
        ],
        coerce=int,
        widget=forms.RadioSelect(attrs={"class": "btn-check"}),
        error_messages={"required": _RATING_ERROR, "invalid_choice": _RATING_ERROR},
    )
    ces = forms.TypedChoiceField(
        label="The company made it easy to handle my issue.",
        choices=[(n, str(n)) for n in range(1, 8)],
        coerce=int,
        empty_value=None,
        required=False,
        widget=forms.RadioSelect(attrs={"class": "btn-check"}),
        error_messages={"invalid_choice": _CES_ERROR},
    )
    comment = forms.CharField(
        label="Anything you would like to add? (optional)",
        required=False,
        max_length=COMMENT_MAX_LENGTH,
        widget=forms.Textarea(attrs={"rows": 4, "class": "form-control"}),
    )

    def __init__(self, *args, ask_ces: bool = True, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        if not ask_ces:
            del self.fields["ces"]
