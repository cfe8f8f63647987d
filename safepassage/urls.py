"""URL configuration. Each app owns its urls module; every view is reachable
from here, and ``tests/test_url_sweep.py`` walks this tree."""

from django.urls import include, path

urlpatterns = [
    path("", include("safepassage.dashboard.urls")),
    path("members/", include("safepassage.members.urls")),
    path("cases/", include("safepassage.cases.urls")),
    path("journeys/", include("safepassage.journeys.urls")),
    path("cells/", include("safepassage.cells.urls")),
    path("contacts/", include("safepassage.contacts.urls")),
    path("safe-houses/", include("safepassage.safehouses.urls")),
    path("compromise/", include("safepassage.compromise.urls")),
    path("field/", include("safepassage.field.urls")),
    path("checkins/", include("safepassage.checkins.urls")),
    path("alerts/", include("safepassage.alerts.urls")),
    path("notifications/", include("safepassage.notifications.urls")),
    path("api/", include("safepassage.api.urls")),
    # Traveller links: a short, plain prefix (it shows in the traveller's history).
    path("t/", include("safepassage.travellers.urls")),
    path("audit/", include("safepassage.audit.urls")),
]
