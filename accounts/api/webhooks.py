"""/api/v1/webhooks/: signed webhook subscriptions and their delivery log (issue 8).

Scope `webhooks`. Admins see and manage every subscription; other staff only their own
(someone else's answers 404). The secret is in the create response only.
"""

from django.db.models import QuerySet
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import serializers
from rest_framework.decorators import action
from rest_framework.response import Response

from .. import webhooks
from ..choices import Role
from ..models import ApiScope, WebhookDelivery, WebhookEvent, WebhookSubscription
from ..permissions import MANAGERS
from .concurrency import ETagDestroyModelMixin
from .serializers import AllowedChoiceField, StrictModelSerializer
from .viewsets import ApiModelViewSet


class WebhookSubscriptionSerializer(StrictModelSerializer):
    owner = serializers.EmailField(source="owner.email", read_only=True)
    events = serializers.ListField(
        child=AllowedChoiceField(choices=WebhookEvent.choices),
        allow_empty=False,
        help_text="Event types to receive.",
    )

    class Meta:
        model = WebhookSubscription
        fields = [
            "id",
            "url",
            "events",
            "active",
            "owner",
            "consecutive_failures",
            "disabled_at",
            "created_at",
        ]
        read_only_fields = ["consecutive_failures", "disabled_at", "created_at"]


class WebhookSubscriptionCreatedSerializer(WebhookSubscriptionSerializer):
    secret = serializers.CharField(
        read_only=True, help_text="Signs the deliveries; shown only in this response."
    )

    class Meta(WebhookSubscriptionSerializer.Meta):
        fields = [*WebhookSubscriptionSerializer.Meta.fields, "secret"]


class WebhookDeliverySerializer(serializers.ModelSerializer):
    event_type = serializers.CharField(read_only=True, help_text="One of the event types.")

    class Meta:
        model = WebhookDelivery
        fields = [
            "id",
            "event_id",
            "event_type",
            "status",
            "attempts",
            "response_code",
            "latency_ms",
            "last_error",
            "next_attempt_at",
            "created_at",
            "delivered_at",
            "payload",
        ]
        read_only_fields = fields


@extend_schema_view(
    list=extend_schema(summary="List webhook subscriptions"),
    create=extend_schema(
        summary="Subscribe a URL to events",
        responses={201: WebhookSubscriptionCreatedSerializer},
    ),
    retrieve=extend_schema(summary="Get a webhook subscription"),
    update=extend_schema(summary="Replace a webhook subscription's fields"),
    partial_update=extend_schema(summary="Change some of a webhook subscription's fields"),
    destroy=extend_schema(summary="Delete a webhook subscription"),
    deliveries=extend_schema(
        summary="A webhook subscription's delivery log",
        responses={200: WebhookDeliverySerializer(many=True)},
    ),
)
class WebhookSubscriptionViewSet(ETagDestroyModelMixin, ApiModelViewSet):
    """Webhook subscriptions, for admins and managers (a subscription receives every
    account's events). Admins manage all; managers their own."""

    queryset = WebhookSubscription.objects.select_related("owner").order_by("pk")
    serializer_class = WebhookSubscriptionSerializer
    required_scopes = {"*": ApiScope.WEBHOOKS}
    read_roles = write_roles = MANAGERS
    role_message = (
        "Only admins and managers may manage webhooks: a subscription receives every "
        "account's events."
    )
    filterset_class = None
    filter_backends: list = []

    def get_queryset(self) -> QuerySet[WebhookSubscription]:
        queryset = super().get_queryset()
        if getattr(self, "swagger_fake_view", False):  # the schema generator
            return queryset
        if self.request.user.role != Role.ADMIN:
            queryset = queryset.filter(owner=self.request.user)
        return queryset

    def get_serializer_class(self):
        if self.action == "deliveries":
            return WebhookDeliverySerializer
        if self.action == "create":  # only here is the secret shown
            return WebhookSubscriptionCreatedSerializer
        return super().get_serializer_class()

    def perform_create(self, serializer) -> None:
        data = serializer.validated_data
        subscription, _secret = webhooks.webhook_subscription_create(
            owner=self.request.user,
            url=data["url"],
            events=data["events"],
            active=data.get("active", True),
        )
        serializer.instance = subscription

    def perform_update(self, serializer) -> None:
        serializer.instance = webhooks.webhook_subscription_update(
            subscription=serializer.instance, **serializer.validated_data
        )

    def perform_destroy(self, instance: WebhookSubscription) -> None:
        webhooks.webhook_subscription_delete(subscription=instance)

    @action(detail=True, methods=["get"])
    def deliveries(self, request, pk=None) -> Response:
        subscription = self.get_object()
        queryset = WebhookDelivery.objects.filter(subscription=subscription)
        page = self.paginate_queryset(queryset)
        data = WebhookDeliverySerializer(page, many=True).data
        return self.get_paginated_response(data)
