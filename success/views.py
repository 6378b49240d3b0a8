from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from accounts.permissions import SUCCESS_STAFF, role_required

from .selectors import PORTFOLIO_LIMIT, portfolio


@role_required(*SUCCESS_STAFF)
def home(request: HttpRequest) -> HttpResponse:
    accounts = list(portfolio(viewer=request.user)[: PORTFOLIO_LIMIT + 1])
    return render(
        request,
        "success/home.html",
        {
            "accounts": accounts[:PORTFOLIO_LIMIT],
            "truncated": len(accounts) > PORTFOLIO_LIMIT,
            "limit": PORTFOLIO_LIMIT,
        },
    )
