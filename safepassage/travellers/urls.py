from django.urls import path

from . import views

app_name = "travellers"
urlpatterns = [
    # Coordinators (first, so these paths are never read as a token).
    path("case/<uuid:case>/new/", views.issue_view, name="issue"),
    path("links/<uuid:traveller_link>/revoke/", views.revoke_view, name="revoke"),
    # The traveller: the token is the only key.
    path("<str:token>/", views.link_view, name="link"),
    path("<str:token>/report/", views.report_view, name="report"),
]
