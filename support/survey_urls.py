"""Public survey pages (no login), mounted at /surveys/csat/ by cxplatform/urls.py."""

from django.urls import path

from .views.surveys import csat_survey

urlpatterns = [path("<str:token>/", csat_survey, name="csat-survey")]
