from rest_framework.routers import SimpleRouter

from . import views

app_name = "support-api"

router = SimpleRouter()
router.register("sla/calendars", views.BusinessCalendarViewSet, basename="sla-calendar")
router.register("sla/policies", views.SlaPolicyViewSet, basename="sla-policy")
router.register("tickets", views.TicketViewSet, basename="ticket")

urlpatterns = router.urls
