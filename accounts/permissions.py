"""Who may open a page: every view names the roles it serves."""

from collections.abc import Callable
from functools import wraps

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse

from .choices import Role

STAFF = (Role.ADMIN, Role.MANAGER, Role.AGENT, Role.CSM)
SUPPORT_STAFF = (Role.ADMIN, Role.MANAGER, Role.AGENT, Role.CSM)
SUCCESS_STAFF = (Role.ADMIN, Role.MANAGER, Role.CSM)
MANAGERS = (Role.ADMIN, Role.MANAGER)


def role_required(*roles: str) -> Callable:
    """Signed-in users with one of `roles` pass; others get 403, anonymous a sign-in page."""

    def decorator(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
        @wraps(view)
        @login_required
        def wrapped(request: HttpRequest, *args, **kwargs) -> HttpResponse:
            if request.user.role not in roles:
                raise PermissionDenied("Your role does not give access to this page.")
            return view(request, *args, **kwargs)

        return wrapped

    return decorator
