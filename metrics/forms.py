"""The filters of the managers' reports: a period, a grain and at most one subject, all read
from the query string so a report can be shared by its link."""

import datetime

from django import forms
from django.utils import timezone

from accounts.choices import Tier

from .catalogue import CHANNEL_IDS, TIER_IDS

DEFAULT_DAYS = 90
MAX_DAYS = 3 * 366  # longer periods are refused (a report reads snapshots per day)
# A day grain draws a point per day: past ~6 months the points are under 3 px apart on the
# chart (unreadable) and the page pools hundreds of daily histograms; weeks or months then.
MAX_DAILY_DAYS = 186
EARLIEST = datetime.date(2000, 1, 1)


GRAINS = [("day", "Day"), ("week", "Week"), ("month", "Month")]
CHANNEL_CHOICES = [("", "All channels")] + [(key, key.capitalize()) for key in CHANNEL_IDS]
TIER_CHOICES = [("", "All tiers")] + [
    (value, label) for value, label in Tier.choices if value in TIER_IDS
]


class ReportFilterForm(forms.Form):
    """`from` and `to` (a half-open period [from, to) of local days, METRICS.md), the grain
    of the trend charts, and the subject: a team, an agent, a CSM's portfolio, a channel or
    an account tier (snapshots are kept per one of them, so at most one is chosen)."""

    grain = forms.ChoiceField(choices=GRAINS, required=False, label="Grain")
    team = forms.IntegerField(required=False, min_value=1, label="Team")
    agent = forms.IntegerField(required=False, min_value=1, label="Agent")
    csm = forms.IntegerField(required=False, min_value=1, label="CSM")
    channel = forms.ChoiceField(choices=CHANNEL_CHOICES, required=False, label="Channel")
    tier = forms.ChoiceField(choices=TIER_CHOICES, required=False, label="Account tier")

    SUBJECT_FIELDS = ("team", "agent", "csm", "channel", "tier")

    def __init__(self, data=None, *, subjects=SUBJECT_FIELDS, today=None, **kwargs):
        super().__init__(data, **kwargs)
        self.today = today or timezone.localdate()
        # "from" and "to" are Python keywords, so these two are added here.
        self.fields["from"] = forms.DateField(
            required=False,
            label="From",
            widget=forms.DateInput(attrs={"type": "date"}),
            error_messages={"invalid": "“From” is not a date: write it as YYYY-MM-DD."},
        )
        self.fields["to"] = forms.DateField(
            required=False,
            label="To (not included)",
            widget=forms.DateInput(attrs={"type": "date"}),
            error_messages={"invalid": "“To” is not a date: write it as YYYY-MM-DD."},
        )
        self.order_fields(["from", "to", "grain"])
        for name in self.SUBJECT_FIELDS:
            if name not in subjects:
                del self.fields[name]

    def clean(self):
        data = super().clean()
        if self.errors:
            return data
        end = data.get("to") or self.today
        start = data.get("from") or end - datetime.timedelta(days=DEFAULT_DAYS)
        latest = self.today + datetime.timedelta(days=366)
        if start < EARLIEST or end > latest:
            raise forms.ValidationError(
                f"The period must lie between {EARLIEST:%d %b %Y} and {latest:%d %b %Y}.",
                code="absurd",
            )
        if start >= end:
            raise forms.ValidationError(
                f"“From” ({start:%Y-%m-%d}) must be before “To” ({end:%Y-%m-%d}): the period "
                "is [from, to), so “To” is the first day not included.",
                code="inverted",
            )
        days = (end - start).days
        if days > MAX_DAYS:
            raise forms.ValidationError(
                f"The period is {days:,} days long; reports cover at most {MAX_DAYS:,} days "
                "(3 years).",
                code="too_long",
            )
        grain = data.get("grain") or ("day" if days <= 31 else "week" if days <= 182 else "month")
        if grain == "day" and days > MAX_DAILY_DAYS:
            raise forms.ValidationError(
                f"A daily chart covers at most {MAX_DAILY_DAYS} days; choose week or month for "
                f"this {days:,}-day period.",
                code="too_many_days",
            )
        chosen = [name for name in self.SUBJECT_FIELDS if data.get(name) not in (None, "")]
        if len(chosen) > 1:
            raise forms.ValidationError(
                "Choose one of "
                + ", ".join(self.fields[name].label.lower() for name in chosen)
                + ": the numbers are kept per team, agent, portfolio, channel or tier, not "
                "per combination.",
                code="two_subjects",
            )
        data.update({"from": start, "to": end, "grain": grain})
        data["subject_field"] = chosen[0] if chosen else ""
        return data

    def messages(self) -> list[str]:
        """Every error, in words, for the 400 page."""
        found = list(self.non_field_errors())
        for name, errors in self.errors.items():
            if name == "__all__":
                continue
            label = self.fields[name].label if name in self.fields else name
            found += [f"{label}: {error}" for error in errors]
        return found
