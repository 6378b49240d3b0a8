from django.urls import path

from . import views

app_name = "metrics"
urlpatterns = [
    path("", views.reports, name="reports"),
    # Parts of the Account 360 page (success:account-detail) that need both teams' data.
    path("accounts/<int:account_id>/timeline/", views.account_timeline, name="account-timeline"),
    path("accounts/<int:account_id>/support/", views.account_support, name="account-support"),
]
