from django.urls import path

from . import views
from .views import escalations
from .views.reports import alignment_report, success_report, support_report

app_name = "metrics"
urlpatterns = [
    path("", views.reports, name="reports"),
    # The managers' reports (filters in the query string; ?format=csv&chart=<name> for CSV).
    path("support/", support_report, name="report-support"),
    path("success/", success_report, name="report-success"),
    path("alignment/", alignment_report, name="report-alignment"),
    # Parts of the Account 360 page (success:account-detail) that need both teams' data.
    path("accounts/<int:account_id>/timeline/", views.account_timeline, name="account-timeline"),
    path("accounts/<int:account_id>/support/", views.account_support, name="account-support"),
    # Escalation flags between the teams: the 360's and the CSM home's panels, a flag's page.
    path(
        "accounts/<int:account_id>/escalations/",
        escalations.account_escalations,
        name="account-escalations",
    ),
    path("escalations/mine/", escalations.home_escalations, name="escalations-home"),
    path("escalations/<int:flag_id>/", escalations.flag_page, name="escalation-flag"),
    path(
        "escalations/<int:flag_id>/acknowledge/",
        escalations.flag_acknowledge,
        name="escalation-flag-acknowledge",
    ),
    path(
        "escalations/<int:flag_id>/comment/",
        escalations.flag_comment,
        name="escalation-flag-comment",
    ),
    path(
        "escalations/<int:flag_id>/resolve/",
        escalations.flag_resolve,
        name="escalation-flag-resolve",
    ),
]
