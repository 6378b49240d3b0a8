"""Small ticket badges, rendered in Python: the queue draws fifty rows per refresh."""

from django import template
from django.utils.html import format_html

from ..choices import Status

register = template.Library()

# Red and amber belong to SLA and health (UI.md): work to do is blue, waiting grey, done green.
_STATUS_STYLE = {
    Status.NEW: ("cx-badge-blue", "circle-fill"),
    Status.OPEN: ("cx-badge-blue", "circle-half"),
    Status.PENDING: ("cx-badge-grey", "pause-circle"),
    Status.ON_HOLD: ("cx-badge-grey", "pause-circle"),
    Status.SOLVED: ("cx-badge-green", "check-circle"),
    Status.CLOSED: ("cx-badge-green", "check-circle"),
}


@register.simple_tag
def status_badge(ticket) -> str:
    css, icon = _STATUS_STYLE.get(ticket.status, ("cx-badge-grey", "circle"))
    return format_html(
        '<span class="badge {}"><i class="bi bi-{}" aria-hidden="true"></i> {}</span>',
        css,
        icon,
        ticket.get_status_display(),
    )
