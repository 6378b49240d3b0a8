from django.urls import path

from . import views

app_name = "success"
urlpatterns = [
    path("", views.home, name="home"),
    path("accounts/<int:account_id>/", views.account_detail, name="account-detail"),
]
