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
    path("success/", include("success.urls")),
    path("reports/", include("metrics.urls")),
    path("api/v1/", include("support.api.urls")),
    path("", include("accounts.urls")),
]

if settings.DEBUG:
    from django.contrib.staticfiles.urls import staticfiles_urlpatterns

    urlpatterns += staticfiles_urlpatterns()
