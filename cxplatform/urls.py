from django.conf import settings
from django.contrib import admin
from django.urls import include, path

from . import views

admin.site.site_header = "CX Platform administration"
admin.site.site_title = "CX Platform admin"

urlpatterns = [
    path("healthz", views.healthz, name="healthz"),
    path("admin/", admin.site.urls),
    path("support/", include("support.urls")),
    path("help/", include("support.help_urls")),
    path("success/", include("success.urls")),
    path("reports/", include("metrics.urls")),
    # Survey pages reached from emails, no login (support: CSAT, success: NPS).
    path("surveys/csat/", include("support.survey_urls")),
    path("surveys/nps/", include("success.survey_urls")),
    path("api/v1/", include("accounts.api.urls")),
    path("api/v1/", include("support.api.urls")),
    path("api/v1/", include("success.api.urls")),
    path("api/v1/", include("metrics.api.urls")),
    # Raw MIME from the mail provider (shared secret, no session): support/views/email.py.
    path("inbound/email/", include("support.email_urls")),
    path("", include("accounts.urls")),
]

if settings.DEBUG:
    from django.contrib.staticfiles.urls import staticfiles_urlpatterns

    urlpatterns += staticfiles_urlpatterns()
