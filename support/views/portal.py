from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from accounts.choices import Role
from accounts.permissions import role_required


@role_required(Role.CUSTOMER)
def portal_home(request: HttpRequest) -> HttpResponse:
    return render(request, "support/portal_home.html", {})
