"""The inbound email webhook, mounted at /inbound/email/ (machine to machine, no login)."""

from django.urls import path

from .views import email

app_name = "support-email"
urlpatterns = [
    path("", email.inbound_email, name="inbound"),
]
