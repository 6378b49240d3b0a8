"""Who may call an endpoint: the token's scopes, then the user's role.

A view declares what it needs:

    required_scopes = {"GET": "accounts:read", "POST": "accounts:write", ...}
    # or read_scope = "accounts:read"; write_scope = "accounts:write"
    read_roles = STAFF            # roles that may use the safe methods
    write_roles = SUCCESS_STAFF   # roles that may use the others

Session users (the browsable API) hold every scope; their role still applies. A view that
declares no scope refuses every token (a forgotten declaration fails closed).
"""

from rest_framework.exceptions import PermissionDenied
from rest_framework.permissions import SAFE_METHODS, BasePermission

from ..models import ApiScope, ApiToken
from ..permissions import STAFF


def required_scope(view, method: str) -> str | None:
    scopes = getattr(view, "required_scopes", None)
    if scopes:
        return scopes.get(method) or scopes.get("*")
    if method in SAFE_METHODS:
        return getattr(view, "read_scope", None)
    return getattr(view, "write_scope", None)


def allowed_roles(view, method: str) -> tuple[str, ...]:
    if method in SAFE_METHODS:
        return tuple(getattr(view, "read_roles", STAFF))
    return tuple(getattr(view, "write_roles", getattr(view, "read_roles", STAFF)))


def token_scopes(request) -> frozenset[str] | None:
    """The scopes of the request's token; None for a session (all scopes)."""
    auth = getattr(request, "auth", None)
    return frozenset(auth.scopes) if isinstance(auth, ApiToken) else None


def require_import_scope(request, fields: str) -> None:
    """Setting past moments (`fields`, as the client names them) imports history, which
    rewrites what the metrics count: a token needs the `import` scope for it (403 saying
    so). A signed-in session has every scope; its role is the view's to check."""
    scopes = token_scopes(request)
    if scopes is not None and ApiScope.IMPORT not in scopes:
        raise PermissionDenied(
            f"Setting {fields} imports history: it needs a token with the "
            f"'{ApiScope.IMPORT}' scope."
        )


class ScopedPermission(BasePermission):
    """Anonymous: 401. A token without the method's scope, or a role the view does not
    serve: 403 with the reason."""

    def has_permission(self, request, view) -> bool:
        user = request.user
        if not (user and user.is_authenticated):
            return False  # DRF turns this into 401 (NotAuthenticated)
        scopes = token_scopes(request)
        if scopes is not None:
            needed = required_scope(view, request.method)
            if needed is None or needed not in scopes:
                self.message = (
                    f"This token lacks the '{needed}' scope needed here."
                    if needed
                    else "This endpoint cannot be used with an API token."
                )
                return False
        if user.role not in allowed_roles(view, request.method):
            may_read = user.role in allowed_roles(view, "GET")
            self.message = (
                getattr(view, "write_role_message", "Your role may read this but not change it.")
                if may_read
                else getattr(view, "role_message", "Your role does not give access to this.")
            )
            return False
        return True
