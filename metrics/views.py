from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from accounts.permissions import MANAGERS, role_required

from .selectors import account_overview


@role_required(*MANAGERS)
def reports(request: HttpRequest) -> HttpResponse:
    return render(request, "metrics/reports.html", {"overview": account_overview()})
