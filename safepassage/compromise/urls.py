from django.urls import path

from . import views

app_name = "compromise"
urlpatterns = [
    path("", views.list_view, name="list"),
    path("declare/", views.declare_view, name="declare"),
    path("analysis/", views.analysis_view, name="analysis"),
    path("<uuid:compromise>/", views.detail_view, name="detail"),
    path("<uuid:compromise>/respond/", views.respond_view, name="respond"),
    path("<uuid:compromise>/release/", views.release_view, name="release"),
    path("<uuid:compromise>/close/", views.close_view, name="close"),
]
