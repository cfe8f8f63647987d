from django.urls import path

from . import views

app_name = "checkins"
urlpatterns = [
    path("pins/", views.pins_view, name="pins"),
    path("legs/<uuid:leg>/plan/", views.plan_view, name="plan"),
]
