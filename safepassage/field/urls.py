from django.urls import path

from . import views

app_name = "field"
urlpatterns = [
    path("", views.my_legs, name="my_legs"),
    path("legs/<uuid:leg>/", views.leg_detail, name="leg"),
    path("handoffs/<uuid:handoff>/photo/", views.handoff_photo, name="handoff_photo"),
    path("exit/", views.quick_exit, name="exit"),
    path("weather/", views.weather, name="weather"),
]
