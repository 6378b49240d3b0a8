"""Template helpers every page uses."""

from datetime import datetime

from django import template
from django.contrib.humanize.templatetags.humanize import naturaltime
from django.utils import timezone
from django.utils.html import format_html
from django.utils.safestring import mark_safe

from accounts.models import zone_named

register = template.Library()


@register.simple_tag(takes_context=True)
def reltime(context, moment: datetime | None, empty: str = "—") -> str:
    """“3 hours ago” with the exact time, in the viewer's time zone, on hover."""
    if moment is None:
        return empty
    user = getattr(context.get("request"), "user", None)
    zone = getattr(user, "time_zone", "") or None
    local = timezone.localtime(moment, timezone=zone_named(zone))
    return format_html(
        '<time datetime="{}" title="{}">{}</time>',
        moment.isoformat(),
        local.strftime("%Y-%m-%d %H:%M %Z"),
        naturaltime(moment),
    )


_BANDS = {
    "green": ("cx-badge-green", "check-circle", "Healthy"),
    "yellow": ("cx-badge-amber", "exclamation-triangle", "At risk"),
    "red": ("cx-badge-red", "x-octagon", "Red"),
}
_NOT_SCORED = mark_safe(
    '<span class="badge cx-badge-grey" title="Health is computed once usage, support or '
    'sentiment data exists">Not scored</span>'
)


@register.simple_tag
def health_badge(account) -> str:
    """The account's health band as a badge (colour, icon and word), its score on hover.
    A tag, not an include: the CSM home draws one per row of a 200-account portfolio."""
    band = _BANDS.get(account.health_band)
    if band is None:
        return _NOT_SCORED
    css, icon, label = band
    return format_html(
        '<span class="badge {}" title="Score {}"><i class="bi bi-{}" aria-hidden="true"></i> '
        "{}</span>",
        css,
        account.health_score,
        icon,
        label,
    )
