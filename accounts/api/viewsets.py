"""The base of every API view: what each endpoint gets without asking.

- throttling runs before the permission checks, so every authenticated or anonymous call
  counts and carries the rate-limit headers (even a refused one);
- `Idempotency-Key` on POST (see idempotency.py);
- with `ApiModelViewSet`, ETag / If-Match (see concurrency.py).
Authentication, permissions (ScopedPermission), pagination, filters and the error shape
come from settings.REST_FRAMEWORK.
"""

from rest_framework import mixins, viewsets
from rest_framework.views import APIView

from .concurrency import ETagMixin, ETagUpdateModelMixin
from .idempotency import HEADER, idempotency_claim, idempotency_release, idempotency_store


class ApiViewMixin:
    def initial(self, request, *args, **kwargs):
        if request.method == "POST" and HEADER in request.headers:
            request._request.body  # noqa: B018 -- keep the raw body for the fingerprint
        self.format_kwarg = self.get_format_suffix(**kwargs)
        neg = self.perform_content_negotiation(request)
        request.accepted_renderer, request.accepted_media_type = neg
        version, scheme = self.determine_version(request, *args, **kwargs)
        request.version, request.versioning_scheme = version, scheme
        self.perform_authentication(request)
        self.check_throttles(request)
        self.check_permissions(request)
        claim, replay = idempotency_claim(request)
        self._idempotency_claim = claim
        if replay is not None:
            self._idempotency_replay = replay
            # The handler is skipped: dispatch calls it, so swap it for the stored answer.
            setattr(self, request.method.lower(), lambda *args, **kwargs: replay)

    def finalize_response(self, request, response, *args, **kwargs):
        response = super().finalize_response(request, response, *args, **kwargs)
        claim = getattr(self, "_idempotency_claim", None)
        if claim is not None:
            self._idempotency_claim = None
            idempotency_store(claim, response)
        return response

    def handle_exception(self, exc):
        try:
            return super().handle_exception(exc)
        except Exception:
            # A crash (re-raised to become a logged 500): let the client retry the key.
            claim = getattr(self, "_idempotency_claim", None)
            if claim is not None:
                self._idempotency_claim = None
                idempotency_release(claim)
            raise


class ApiView(ApiViewMixin, APIView):
    pass


class ApiGenericViewSet(ApiViewMixin, viewsets.GenericViewSet):
    pass


class ApiModelViewSet(
    ApiViewMixin,
    ETagMixin,
    mixins.CreateModelMixin,
    mixins.RetrieveModelMixin,
    ETagUpdateModelMixin,
    mixins.ListModelMixin,
    viewsets.GenericViewSet,
):
    """List, create, retrieve, update (no delete unless a view adds DestroyModelMixin)."""
