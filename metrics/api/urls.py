"""/api/v1/metrics/{name}/ (mounted by cxplatform.urls)."""

from django.urls import path
from rest_framework.routers import SimpleRouter

from . import escalations, views

app_name = "metrics-api"

router = SimpleRouter()
router.register("escalations", escalations.EscalationFlagViewSet, basename="escalation")

urlpatterns = [
    path("metrics/<str:name>/", views.MetricView.as_view(), name="metric"),
    *router.urls,
]
