from django.urls import path

from . import views

app_name = "safehouses"
urlpatterns = [
    path("", views.list_view, name="list"),
    path("new/", views.new_view, name="new"),
    path("<uuid:house>/edit/", views.edit_view, name="edit"),
]
