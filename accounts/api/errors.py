"""One error shape for the whole API, and never an HTML page under /api/.

    {"error": {"code": "not_found", "message": "Not found.", "fields": {}}}

`fields` maps a field name to its messages (nested like the body for nested fields) on a
400; it is empty otherwise. `api_exception_handler` is DRF's EXCEPTION_HANDLER;
`ApiErrorMiddleware` catches what DRF never sees (unknown URLs, crashes, Django's own 4xx
pages) for paths under /api/.
"""

import logging
from collections.abc import Callable

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import RequestDataTooBig
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.settings import api_settings
from rest_framework.views import exception_handler

logger = logging.getLogger("cxplatform.api")

API_PREFIX = "/api/"

DEFAULT_CODES = {
    400: "invalid",
    401: "not_authenticated",
    403: "permission_denied",
    404: "not_found",
    405: "method_not_allowed",
    406: "not_acceptable",
    409: "conflict",
    412: "precondition_failed",
    413: "request_too_large",
    415: "unsupported_media_type",
    429: "rate_limited",
    500: "server_error",
}
DEFAULT_MESSAGES = {
    400: "The request is invalid.",
    401: "Authentication credentials were not provided.",
    403: "You do not have permission to do this.",
    404: "Not found.",
    405: "Method not allowed.",
    409: "The request conflicts with the current state.",
    412: "The resource has changed since you read it.",
    413: "The request body is too large.",
    415: "Unsupported media type.",
    429: "Too many requests.",
    500: "Something went wrong on our side; it has been logged.",
}


class Conflict(exceptions.APIException):
    status_code = status.HTTP_409_CONFLICT
    default_detail = DEFAULT_MESSAGES[409]
    default_code = "conflict"


class PreconditionFailed(exceptions.APIException):
    status_code = status.HTTP_412_PRECONDITION_FAILED
    default_detail = DEFAULT_MESSAGES[412]
    default_code = "precondition_failed"


class RequestTooLarge(exceptions.APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_detail = DEFAULT_MESSAGES[413]
    default_code = "request_too_large"


def error_body(status_code: int, message: str = "", code: str = "", fields=None) -> dict:
    return {
        "error": {
            "code": code or DEFAULT_CODES.get(status_code, "error"),
            "message": message or DEFAULT_MESSAGES.get(status_code, "Error."),
            "fields": fields or {},
        }
    }


def _validation_body(detail) -> dict:
    if isinstance(detail, dict):
        fields = detail
    else:  # a list: errors about the body as a whole
        fields = {api_settings.NON_FIELD_ERRORS_KEY: detail}
    named = [name for name in fields if name != api_settings.NON_FIELD_ERRORS_KEY]
    if named:
        message = f"Invalid fields: {', '.join(named)}."
    else:
        message = _first_message(fields) or DEFAULT_MESSAGES[400]
    return error_body(400, message, "invalid", fields)


def _first_message(value) -> str:
    if isinstance(value, str):
        return value
    items = value.values() if isinstance(value, dict) else value if isinstance(value, list) else []
    for item in items:
        if found := _first_message(item):
            return found
    return ""


def _code_of(exc: exceptions.APIException) -> str:
    code = getattr(exc.detail, "code", None) or exc.default_code
    return str(code) if code else DEFAULT_CODES.get(exc.status_code, "error")


def api_exception_handler(exc, context) -> Response | None:
    """DRF's handler with our body. Django's own exceptions are mapped first: Http404 and
    PermissionDenied as DRF does, a model ValidationError (from a service's full_clean) to
    400 with its fields, a body over DATA_UPLOAD_MAX_MEMORY_SIZE to 413."""
    if isinstance(exc, DjangoValidationError):
        detail = (
            exc.message_dict
            if hasattr(exc, "error_dict")
            else {api_settings.NON_FIELD_ERRORS_KEY: exc.messages}
        )
        exc = exceptions.ValidationError(detail)
    elif isinstance(exc, RequestDataTooBig):
        exc = RequestTooLarge()
    elif isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied(*exc.args)
    response = exception_handler(exc, context)
    if response is None:
        return None  # not an API error: ApiErrorMiddleware logs it and answers 500
    if isinstance(exc, exceptions.ValidationError):
        response.data = _validation_body(exc.detail)
    else:
        detail = exc.detail if isinstance(exc, exceptions.APIException) else ""
        message = detail if isinstance(detail, str) else _first_message(detail)
        response.data = error_body(response.status_code, str(message), _code_of(exc))
    return response


class ApiErrorMiddleware:
    """Under /api/: an exception becomes a logged JSON 500 and any non-JSON error page
    (Django's 404 for an unknown URL, its 400/403/405 pages) becomes the error shape. Also
    adds the rate-limit headers the throttle left on the request."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if not request.path.startswith(API_PREFIX):
            return response
        if response.status_code >= 400 and not _is_json(response):
            response = _as_json_error(response)
        rate = getattr(request, "cx_rate_limit", None)
        if rate is not None:
            for header, value in rate.headers().items():
                response.headers.setdefault(header, value)
        return response

    def process_exception(self, request: HttpRequest, exception: Exception):
        if not request.path.startswith(API_PREFIX):
            return None
        logger.exception("API error on %s %s", request.method, request.path)
        return JsonResponse(error_body(500), status=500)


def _is_json(response: HttpResponse) -> bool:
    return response.headers.get("Content-Type", "").startswith("application/json")


def _as_json_error(response: HttpResponse) -> HttpResponse:
    code = response.status_code
    replacement = JsonResponse(error_body(code), status=code)
    for header in ("Allow", "Retry-After", "WWW-Authenticate"):
        if header in response.headers:
            replacement.headers[header] = response.headers[header]
    return replacement


def json_error_response(status_code: int, message: str = "", code: str = "") -> JsonResponse:
    return JsonResponse(error_body(status_code, message, code), status=status_code)
