from django.urls import path

from . import views

app_name = "alerts"
urlpatterns = [
    path("", views.list_view, name="list"),
    path("<uuid:alert>/", views.detail_view, name="detail"),
    path("<uuid:alert>/acknowledge/", views.acknowledge_view, name="acknowledge"),
    path("<uuid:alert>/resolve/", views.resolve_view, name="resolve"),
    path("<uuid:alert>/note/", views.note_view, name="note"),
    path("journeys/<uuid:journey>/", views.timeline_view, name="timeline"),
]
