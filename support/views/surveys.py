"""The CSAT survey page: no login, reached by the signed link in the solved-ticket email."""

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods

from ..selectors import surveys as selectors
from ..services import surveys as services
from ..survey_forms import CsatForm

TEMPLATE = "support/surveys/csat.html"
LINK_PROBLEM = "surveys/link_problem.html"


def link_problem(request: HttpRequest, *, expired: bool = False, missing: bool = False):
    """The page for a survey link that cannot be used: expired 410, gone 404, altered 400."""
    status = 410 if expired else 404 if missing else 400
    return render(
        request,
        LINK_PROBLEM,
        {"expired": expired, "missing": missing, "days": settings.CX_SURVEY_LINK_MAX_AGE_DAYS},
        status=status,
    )


def _preselected(request: HttpRequest, existing) -> dict:
    """A rating from the email's one-click link (?rating=5), else the earlier answer."""
    rating = request.GET.get("rating", "")
    if rating.isdigit() and 1 <= int(rating) <= 5:
        return {"rating": int(rating), "ces": existing.ces if existing else None}
    if existing:
        return {"rating": existing.rating, "ces": existing.ces, "comment": existing.comment}
    return {}


@never_cache
@require_http_methods(["GET", "HEAD", "POST"])
def csat_survey(request: HttpRequest, token: str) -> HttpResponse:
    try:
        link = selectors.csat_link_read(token)
    except selectors.SurveyLinkExpired:
        return link_problem(request, expired=True)
    except selectors.SurveyLinkInvalid:
        return link_problem(request)
    ticket = selectors.csat_survey_ticket(ticket_id=link.ticket_id)
    if ticket is None:
        return link_problem(request, missing=True)
    existing = selectors.csat_for_ticket(ticket=ticket)
    ask_ces = settings.CX_SURVEY_CES
    if request.method == "POST":
        form = CsatForm(request.POST, ask_ces=ask_ces)
        if form.is_valid():
            data = form.cleaned_data
            try:
                response = services.csat_response_record(
                    ticket_id=ticket.pk,
                    contact_id=link.contact_id,
                    rating=data["rating"],
                    ces=data.get("ces"),
                    comment=data["comment"],
                )
            except services.SurveyError:
                return link_problem(request, missing=True)
            context = {"ticket": ticket, "response": response, "replaced": existing is not None}
            return render(request, TEMPLATE, context)
        status = 400
    else:
        form = CsatForm(initial=_preselected(request, existing), ask_ces=ask_ces)
        status = 200
    context = {"ticket": ticket, "form": form, "existing": existing}
    return render(request, TEMPLATE, context, status=status)
