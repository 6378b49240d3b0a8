"""Public survey pages (no login), mounted at /surveys/nps/ by cxplatform/urls.py."""

from django.urls import path

from .views import nps_survey

urlpatterns = [path("<str:token>/", nps_survey, name="nps-survey")]
