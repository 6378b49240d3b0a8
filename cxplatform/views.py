from django.http import HttpRequest, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from .health import UP, platform_health


@never_cache
@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    """JSON state of each dependency: 200 when all are up, 503 otherwise."""
    states = platform_health()
    healthy = all(state == UP for state in states.values())
    return JsonResponse(
        {"status": "ok" if healthy else "degraded", **states}, status=200 if healthy else 503
    )
