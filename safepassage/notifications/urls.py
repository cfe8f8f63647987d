from django.urls import path

from . import views

app_name = "notifications"
urlpatterns = [
    path("", views.list_view, name="list"),
    path("badge/", views.badge_view, name="badge"),
    path("read/", views.read_view, name="read"),
    path("settings/", views.settings_view, name="settings"),
    path("internal-hosts/", views.internal_hosts_view, name="internal_hosts"),
]
