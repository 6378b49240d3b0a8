"""/api/v1/metrics/{name}/ (mounted by cxplatform.urls)."""

from django.urls import path

from . import views

app_name = "metrics-api"

urlpatterns = [
    path("metrics/<str:name>/", views.MetricView.as_view(), name="metric"),
]
