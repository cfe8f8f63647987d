from django.urls import path

from . import views

app_name = "field"
urlpatterns = [
    path("", views.my_legs, name="my_legs"),
    path("acknowledge/", views.acknowledge, name="acknowledge"),
    path("legs/<uuid:leg>/", views.leg_detail, name="leg"),
    path("legs/<uuid:leg>/check-in/", views.check_in, name="check_in"),
    path("legs/<uuid:leg>/problem/", views.report_problem, name="report_problem"),
    path("handoffs/<uuid:handoff>/photo/", views.handoff_photo, name="handoff_photo"),
    path("exit/", views.quick_exit, name="exit"),
    path("weather/", views.weather, name="weather"),
]
