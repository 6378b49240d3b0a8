"""The OpenAPI contract's shared parts: the bearer scheme, the error shape on every
operation, and the Idempotency-Key / If-Match headers (drf-spectacular)."""

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.openapi import AutoSchema
from drf_spectacular.plumbing import build_bearer_security_scheme_object
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter
from rest_framework import serializers

from .errors import DEFAULT_MESSAGES
from .idempotency import HEADER as IDEMPOTENCY_HEADER


class BearerTokenScheme(OpenApiAuthenticationExtension):
    target_class = "accounts.api.authentication.BearerTokenAuthentication"
    name = "bearerAuth"

    def get_security_definition(self, auto_schema):
        scheme = build_bearer_security_scheme_object(
            header_name="Authorization", token_prefix="Bearer"
        )
        scheme["description"] = (
            "An API token from your profile page or `manage.py api_token create`: "
            "`Authorization: Bearer cx_...`. The token's scopes and its user's role decide "
            "what it may do."
        )
        return scheme


class ErrorDetailSerializer(serializers.Serializer):
    code = serializers.CharField(help_text="Machine-readable, e.g. not_found, invalid.")
    message = serializers.CharField(help_text="What went wrong, for a person.")
    fields = serializers.DictField(
        child=serializers.JSONField(),
        help_text="On a 400: each invalid field's messages (nested like the body). Else {}.",
    )


class ErrorSerializer(serializers.Serializer):
    """The body of every 4xx and 5xx response under /api/."""

    error = ErrorDetailSerializer()


class ApiAutoSchema(AutoSchema):
    def _error_codes(self) -> list[int]:
        codes = [401, 403, 429]
        is_detail = "{" in self.path
        # Any GET may get a 400 for a bad query parameter (a filter, a period, a cursor).
        if self.method in ("GET", "POST", "PUT", "PATCH"):
            codes.append(400)
        if is_detail:
            codes.append(404)
        if self.method == "POST":
            codes.append(409)
        if self.method in ("PUT", "PATCH", "DELETE"):
            codes.append(412)
        if self.method in ("POST", "PUT", "PATCH"):
            codes += [413, 415]
        return sorted(codes)

    def _get_response_bodies(self, direction="response"):
        responses = super()._get_response_bodies(direction)
        for code in self._error_codes():
            if str(code) not in responses:
                response = self._get_response_for_code(ErrorSerializer, str(code))
                response["description"] = DEFAULT_MESSAGES[code]
                responses[str(code)] = response
        return responses

    def get_override_parameters(self):
        parameters = list(super().get_override_parameters())
        if self.method == "POST":
            parameters.append(
                OpenApiParameter(
                    IDEMPOTENCY_HEADER,
                    OpenApiTypes.STR,
                    OpenApiParameter.HEADER,
                    description="Retrying with the same key and body within 24 hours returns "
                    "the first response and creates nothing; another body is a 409.",
                )
            )
        if self.method in ("PUT", "PATCH", "DELETE") and "{" in self.path:
            parameters.append(
                OpenApiParameter(
                    "If-Match",
                    OpenApiTypes.STR,
                    OpenApiParameter.HEADER,
                    description="The ETag you read; a stale one is answered 412.",
                )
            )
        return parameters
