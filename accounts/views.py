from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect

from .forms import EmailLoginForm


@login_required
def home(request: HttpRequest) -> HttpResponse:
    """Send each person to their role's home: the queue, the portfolio, the reports."""
    return redirect(request.user.home_url())


class LoginView(auth_views.LoginView):
    form_class = EmailLoginForm
    redirect_authenticated_user = True
