"""Rate limits per token (per user for a session, per address for anonymous callers).

A fixed one-minute window counted in Redis through Django's cache: one INCR per request,
shared by every web process. The limit is `settings.CX_API_RATE_LIMIT` requests a minute.
`X-RateLimit-Limit`, `X-RateLimit-Remaining` and `X-RateLimit-Reset` (seconds until the
window ends) go on every response that got this far; a refused request gets 429 with
`Retry-After`. (A fixed window may let up to twice the limit through across a window's
edge; for a per-minute budget that is accepted in exchange for one cheap counter.)
"""

import math
import time
from dataclasses import dataclass

from django.conf import settings
from django.core.cache import cache
from rest_framework.throttling import BaseThrottle

from ..models import ApiToken

WINDOW_SECONDS = 60


@dataclass(frozen=True)
class RateLimitState:
    limit: int
    remaining: int
    reset_in: int

    def headers(self) -> dict[str, str]:
        return {
            "X-RateLimit-Limit": str(self.limit),
            "X-RateLimit-Remaining": str(self.remaining),
            "X-RateLimit-Reset": str(self.reset_in),
        }


def rate_identity(request) -> str:
    if isinstance(request.auth, ApiToken):
        return f"token:{request.auth.pk}"
    if request.user and request.user.is_authenticated:
        return f"user:{request.user.pk}"
    return f"ip:{request.META.get('REMOTE_ADDR', '')}"


class ApiRateThrottle(BaseThrottle):
    def allow_request(self, request, view) -> bool:
        limit = int(settings.CX_API_RATE_LIMIT)
        now = time.time()
        window = int(now // WINDOW_SECONDS)
        key = f"api-rate:{rate_identity(request)}:{window}"
        # add() is a no-op when the key exists; the counter expires with its window.
        cache.add(key, 0, timeout=WINDOW_SECONDS + 5)
        try:
            count = cache.incr(key)
        except ValueError:  # expired between add and incr
            cache.add(key, 1, timeout=WINDOW_SECONDS + 5)
            count = 1
        self.reset_in = max(1, math.ceil((window + 1) * WINDOW_SECONDS - now))
        state = RateLimitState(limit, max(0, limit - count), self.reset_in)
        # The middleware copies these onto the response, whatever the view answers.
        request._request.cx_rate_limit = state
        return count <= limit

    def wait(self) -> float:
        return self.reset_in
