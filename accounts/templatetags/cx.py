"""Template helpers every page uses."""

from datetime import datetime

from django import template
from django.contrib.humanize.templatetags.humanize import naturaltime
from django.utils import timezone
from django.utils.html import format_html

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
