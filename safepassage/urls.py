"""URL configuration. Every view is listed in an app's urls module included here."""

from django.urls import include, path

urlpatterns = [
    path("", include("safepassage.dashboard.urls")),
    path("members/", include("safepassage.members.urls")),
]
