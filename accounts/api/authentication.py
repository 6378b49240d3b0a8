"""`Authorization: Bearer <token>`: the token acts as its user, within its scopes."""

import hmac

from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from rest_framework import exceptions
from rest_framework.authentication import BaseAuthentication, get_authorization_header

from ..models import ApiToken
from ..services import API_TOKEN_PREFIX, api_token_hash, api_token_touch


class BearerTokenAuthentication(BaseAuthentication):
    """Finds the token by its (non-secret) prefix, then compares the SHA-256 of what was
    sent with the stored one in constant time. Revoked or expired tokens and inactive users
    are refused with 401; a request without the header falls through to the next class
    (the session, for the browsable API)."""

    keyword = b"bearer"

    def authenticate(self, request):
        parts = get_authorization_header(request).split()
        if not parts or parts[0].lower() != self.keyword:
            return None
        if len(parts) != 2:
            raise exceptions.AuthenticationFailed(
                _("Malformed Authorization header: use 'Bearer <token>'.")
            )
        try:
            token = parts[1].decode("ascii")
        except UnicodeDecodeError:
            raise exceptions.AuthenticationFailed(_("Invalid token.")) from None
        return self.authenticate_token(token)

    def authenticate_token(self, token: str):
        prefix = _prefix_of(token)
        api_token = (
            ApiToken.objects.select_related("user").filter(prefix=prefix).first()
            if prefix
            else None
        )
        # Compare even when nothing was found, so timing tells nothing about the prefix.
        expected = api_token.key_hash if api_token else "0" * 64
        if not hmac.compare_digest(api_token_hash(token), expected) or api_token is None:
            raise exceptions.AuthenticationFailed(_("Invalid token."))
        now = timezone.now()
        if api_token.revoked_at is not None:
            raise exceptions.AuthenticationFailed(_("This token has been revoked."))
        if api_token.expires_at is not None and api_token.expires_at <= now:
            raise exceptions.AuthenticationFailed(_("This token has expired."))
        if not api_token.user.is_active:
            raise exceptions.AuthenticationFailed(_("The token's user is inactive."))
        api_token_touch(api_token=api_token, now=now)
        return api_token.user, api_token

    def authenticate_header(self, request) -> str:
        # Makes DRF answer "not authenticated" with 401 (not 403) and this challenge.
        return 'Bearer realm="api"'


def _prefix_of(token: str) -> str | None:
    """`cx_<prefix>_<secret>` → prefix."""
    if not token.startswith(API_TOKEN_PREFIX):
        return None
    prefix, _sep, secret = token[len(API_TOKEN_PREFIX) :].partition("_")
    if not prefix or not secret or len(prefix) > 16:
        return None
    return prefix
