from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render
from django.utils.cache import patch_vary_headers

from accounts.permissions import STAFF, SUCCESS_STAFF, role_required
from success.selectors import portfolio

from .. import selectors
from ..selectors import TIMELINE_PAGE_SIZE, InvalidCursor, TimelineCursor

# The reports' landing page lives with the three reports (views/reports.py); imported here
# so that the name `views.reports` is the view, not the module.
from .reports import reports as reports

# The account's timeline and support panel are parts of the Account 360 page, which loads
# them with htmx; opened directly they are pages of their own. Who may see an account is
# the 360 page's rule (success.selectors.portfolio: a CSM their own accounts, everyone else
# any) with one addition: support agents, who work every account's tickets, may see these
# two parts as well (accounts.permissions.STAFF). Customers get 403, others' accounts 404.


@role_required(*STAFF)
def account_timeline(request: HttpRequest, account_id: int) -> HttpResponse:
    account = get_object_or_404(portfolio(viewer=request.user), pk=account_id)
    context: dict = {"account": account, "links_to_account": request.user.role in SUCCESS_STAFF}
    before = None
    if raw := request.GET.get("before", "").strip():
        try:
            before = TimelineCursor.parse(raw)
        except InvalidCursor as error:
            context["error"] = str(error)
            return _render(request, "metrics/account_timeline.html", "timeline", context, 400)
    rows = selectors.account_timeline(account=account, before=before, limit=TIMELINE_PAGE_SIZE + 1)
    entries = rows[:TIMELINE_PAGE_SIZE]
    context |= {
        "entries": entries,
        "older": entries[-1].cursor if len(rows) > TIMELINE_PAGE_SIZE else "",
        "before": before,
        "page_size": TIMELINE_PAGE_SIZE,
    }
    # "Older" asks for the next rows only; they are appended in place of the button.
    partial = "entries" if before is not None else "timeline"
    return _render(request, "metrics/account_timeline.html", partial, context)


@role_required(*STAFF)
def account_support(request: HttpRequest, account_id: int) -> HttpResponse:
    account = get_object_or_404(portfolio(viewer=request.user), pk=account_id)
    context = {
        "account": account,
        "summary": selectors.account_support_summary(account=account),
        "links_to_account": request.user.role in SUCCESS_STAFF,
    }
    return _render(request, "metrics/account_support.html", "panel", context)


def _render(
    request: HttpRequest, template: str, partial: str, context: dict, status: int = 200
) -> HttpResponse:
    """The partial for htmx (the 360 page's lazy load, "Older"); the whole page otherwise."""
    if request.htmx and not request.htmx.boosted and not request.htmx.history_restore_request:
        template = f"{template}#{partial}"
    response = render(request, template, context, status=status)
    patch_vary_headers(response, ["HX-Request"])
    return response
