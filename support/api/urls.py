from django.urls import path
from rest_framework.routers import SimpleRouter

from . import export, imports, knowledge, surveys, views

app_name = "support-api"

router = SimpleRouter()
router.register("sla/calendars", views.BusinessCalendarViewSet, basename="sla-calendar")
router.register("sla/policies", views.SlaPolicyViewSet, basename="sla-policy")
router.register("tickets", views.TicketViewSet, basename="ticket")
router.register("kb/articles", knowledge.ArticleViewSet, basename="kb-article")
router.register("surveys/csat", surveys.CsatResponseViewSet, basename="csat")

urlpatterns = [
    *router.urls,
    path("export/tickets/", export.TicketExportView.as_view(), name="export-tickets"),
    path("import/tickets/", imports.TicketImportView.as_view(), name="import-tickets"),
]
