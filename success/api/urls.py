"""/api/v1/: the success resources (mounted by cxplatform.urls)."""

from django.urls import path
from rest_framework.routers import SimpleRouter

from . import views

app_name = "success-api"

router = SimpleRouter()
router.register("subscriptions", views.SubscriptionViewSet, basename="subscription")
router.register("revenue-events", views.RevenueEventViewSet, basename="revenue-event")
router.register("success-plans", views.SuccessPlanViewSet, basename="success-plan")
router.register("touchpoints", views.TouchpointViewSet, basename="touchpoint")
router.register("surveys/nps", views.NpsResponseViewSet, basename="nps-response")

urlpatterns = [
    path("usage/", views.UsageView.as_view(), name="usage"),
    *router.urls,
]
