from django.urls import path

from . import views

app_name = "success"
urlpatterns = [
    path("", views.home, name="home"),
    path("accounts/<int:account_id>/", views.account_detail, name="account-detail"),
    path("accounts/<int:account_id>/plans/", views.plan_create, name="plan-create"),
    path(
        "accounts/<int:account_id>/plans/<int:plan_id>/objectives/",
        views.objective_create,
        name="objective-create",
    ),
    path(
        "accounts/<int:account_id>/plans/<int:plan_id>/milestones/",
        views.milestone_create,
        name="milestone-create",
    ),
    path(
        "accounts/<int:account_id>/milestones/<int:milestone_id>/status/",
        views.milestone_status,
        name="milestone-status",
    ),
    path(
        "accounts/<int:account_id>/touchpoints/", views.touchpoint_create, name="touchpoint-create"
    ),
    path(
        "accounts/<int:account_id>/health-override/",
        views.health_override_set,
        name="health-override-set",
    ),
    path(
        "accounts/<int:account_id>/health-override/clear/",
        views.health_override_clear,
        name="health-override-clear",
    ),
    path(
        "accounts/<int:account_id>/lifecycle-stage/",
        views.lifecycle_stage_change,
        name="lifecycle-stage-change",
    ),
]
