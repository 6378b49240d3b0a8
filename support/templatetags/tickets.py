"""Small ticket badges, rendered in Python: the queue draws fifty rows per refresh."""

from datetime import datetime, timedelta, tzinfo

from django import template
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.safestring import mark_safe

from accounts.templatetags.cx import reltime

from .. import sla
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


# --- SLA --------------------------------------------------------------------------------

# One meaning per colour (UI.md): met green, at risk amber, breached red, paused grey; a
# clock that is simply running stays neutral so that amber and red stand out in a list.
_SLA_STYLE = {
    sla.MET: ("cx-badge-green", "check-circle"),
    sla.RUNNING: ("cx-badge-neutral", "clock"),
    sla.PAUSED: ("cx-badge-grey", "pause-circle"),
    sla.AT_RISK: ("cx-badge-amber", "exclamation-triangle-fill"),
    sla.BREACHED: ("cx-badge-red", "exclamation-octagon-fill"),
}


_NO_SLA = mark_safe(
    '<span class="text-body-secondary" title="No running SLA target">—'
    '<span class="visually-hidden">No running SLA target</span></span>'
)


def duration_text(delta: timedelta, *, days: bool = True) -> str:
    """ "2h 10m", "45m", "3d 4h", "12d" (whole minutes, rounded down). `days=False` counts hours
    past 24 ("30h"): a business day is not 24 hours, so business time never says "1d"."""
    minutes = max(int(delta.total_seconds() // 60), 0)
    hours, minutes = divmod(minutes, 60)
    if days and hours >= 24:
        whole_days, hours = divmod(hours, 24)
        # A week or more: the hours no longer matter, and the badge stays narrow.
        return f"{whole_days}d {hours}h" if hours and whole_days < 7 else f"{whole_days}d"
    if hours:
        return f"{hours}h {minutes}m" if minutes else f"{hours}h"
    return f"{minutes}m"


@register.filter
def business_duration(delta: timedelta | None) -> str:
    """A clock's elapsed or target business time: "1h 20m", "4h", "30h"."""
    return "" if delta is None else duration_text(delta, days=False)


def _viewer_zone(context) -> tzinfo | None:
    return getattr(getattr(context.get("request"), "user", None), "zone", None)


def _exact(context, moment: datetime) -> str:
    return timezone.localtime(moment, _viewer_zone(context)).strftime("%Y-%m-%d %H:%M %Z")


@register.simple_tag(takes_context=True)
def abstime(context, moment: datetime | None) -> str:
    """An exact time in the viewer's time zone ("Tue 12 May, 14:30 CEST")."""
    if moment is None:
        return "—"
    local = timezone.localtime(moment, _viewer_zone(context))
    return format_html(
        '<time datetime="{}" title="{}">{}</time>',
        moment.isoformat(),
        local.strftime("%Y-%m-%d %H:%M %Z"),
        f"{local:%a} {local.day} {local:%b}, {local:%H:%M %Z}",
    )


@register.simple_tag(takes_context=True)
def sla_badge(context, ticket) -> str:
    """The queue row's SLA badge, from the row's own columns (no query): wall-clock time left
    until the earliest running target is due, or how long it is overdue. The stored due time
    already counts business hours, so the wall-clock difference is what the agent has left."""
    due = ticket.sla_due_at
    if due is None:
        return _NO_SLA
    now = timezone.now()
    if now >= due:
        state, text = sla.BREACHED, f"{duration_text(now - due)} overdue"
    else:
        warn = ticket.sla_warn_at
        state = sla.AT_RISK if warn is not None and now >= warn else sla.RUNNING
        text = f"{duration_text(due - now)} left"
    css, icon = _SLA_STYLE[state]
    label = "On track" if state == sla.RUNNING else sla.STATE_LABELS[state]
    return format_html(
        '<span class="badge {} cx-sla" title="{}: {} {}"><i class="bi bi-{}" aria-hidden="true">'
        '</i><span class="visually-hidden">SLA {}: </span> {}</span>',
        css,
        label,
        "was due" if state == sla.BREACHED else "due",
        _exact(context, due),
        icon,
        label.lower(),
        text,
    )


@register.simple_tag
def sla_state_badge(clock: sla.Clock) -> str:
    """A clock's state on the ticket page: "Met", "Running", "Paused", "At risk", "Breached"."""
    css, icon = _SLA_STYLE.get(clock.state, ("cx-badge-grey", "circle"))
    return format_html(
        '<span class="badge {}"><i class="bi bi-{}" aria-hidden="true"></i> {}</span>',
        css,
        icon,
        clock.state_label,
    )


# --- the queue's rows -------------------------------------------------------------------

_PRIORITY_ICONS = {
    "urgent": mark_safe('<i class="bi bi-exclamation-octagon-fill" aria-hidden="true"></i> '),
    "high": mark_safe('<i class="bi bi-arrow-up" aria-hidden="true"></i> '),
}
_NO_ACCOUNT = mark_safe('<span class="text-body-secondary">—</span>')
# First in the cell, so that a long account name cannot push it out of the narrow column.
_AT_RISK = mark_safe(
    '<span class="badge text-bg-danger cx-at-risk" title="At-risk account">'
    '<i class="bi bi-exclamation-triangle-fill" aria-hidden="true"></i>'
    '<span class="visually-hidden">At-risk account</span></span> '
)
_UNASSIGNED = mark_safe('<span class="text-body-secondary">Unassigned</span>')


@register.simple_tag(takes_context=True)
def queue_row(context, ticket) -> str:
    """One queue row, rendered in Python: the page draws fifty on every refresh, and the
    template engine spent about half a millisecond on each (a third of the page's time)."""
    url = ticket.get_absolute_url()
    account = ticket.account
    if account is not None:
        tier = account.get_tier_display()
        account_attrs = format_html(' title="{} · {}"', account.name, tier)
        account_html = format_html(
            '{} <span class="cx-tier cx-tier-{}">{}</span>', account.name, account.tier, tier
        )
        if account.support_attention == "at_risk":
            account_html = _AT_RISK + account_html
            account_attrs = format_html(' title="{} · {} · At-risk account"', account.name, tier)
    else:
        account_attrs, account_html = "", _NO_ACCOUNT
    tags = format_html_join(
        "", ' <span class="badge cx-tag">{}</span>', ((t,) for t in ticket.tags[:2])
    )
    checked = mark_safe(" checked") if ticket.pk in (context.get("selected") or ()) else ""
    return format_html(
        '<tr id="row-{pk}" data-href="{url}" data-ticket="{pk}" data-claim-url="{url}claim/" '
        'tabindex="-1">\n'
        '<td class="cx-col-check"><input type="checkbox" class="form-check-input cx-select" '
        'name="tickets" value="{pk}" form="bulk-form" id="select-{pk}" '
        'aria-label="Select ticket #{pk}"{checked}></td>\n'
        '<td class="cx-col-number text-body-secondary">{pk}</td>\n'
        '<td class="cx-col-subject" title="{subject}"><a class="cx-row-link" href="{url}">'
        "{subject}</a>{tags}</td>\n"
        '<td class="cx-col-requester">{requester}</td>\n'
        '<td class="cx-col-account"{account_attrs}>{account}</td>\n'
        "<td>{status}</td>\n"
        '<td class="cx-col-due">{due}</td>\n'
        '<td class="cx-priority cx-priority-{priority}">{priority_icon}{priority_label}</td>\n'
        '<td class="cx-col-assignee">{assignee}</td>\n'
        '<td class="cx-col-updated">{updated}</td>\n'
        "</tr>",
        pk=ticket.pk,
        url=url,
        checked=checked,
        subject=ticket.subject,
        tags=tags,
        requester=ticket.requester.name,
        account_attrs=account_attrs,
        account=account_html,
        status=status_badge(ticket),
        due=sla_badge(context, ticket),
        priority=ticket.priority,
        priority_icon=_PRIORITY_ICONS.get(ticket.priority, ""),
        priority_label=ticket.get_priority_display(),
        assignee=ticket.assignee if ticket.assignee_id else _UNASSIGNED,
        updated=reltime(context, ticket.updated_at),
    )
