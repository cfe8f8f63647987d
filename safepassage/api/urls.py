"""``/api/v1/``: the JSON API (see docs/API.md); ``/api/schema/``: its OpenAPI description."""

from django.urls import include, path, re_path
from drf_spectacular.views import SpectacularAPIView

from . import views

app_name = "api"

v1 = [
    path("legs/", views.LegList.as_view(), name="legs"),
    path("legs/<uuid:leg>/", views.LegDetail.as_view(), name="leg"),
    path("legs/<uuid:leg>/start/", views.LegStart.as_view(), name="leg_start"),
    path("legs/<uuid:leg>/handed-off/", views.LegHandedOff.as_view(), name="leg_handed_off"),
    path("legs/<uuid:leg>/checkins/", views.LegCheckin.as_view(), name="leg_checkins"),
    path("legs/<uuid:leg>/problems/", views.LegProblem.as_view(), name="leg_problems"),
    path("handoffs/<uuid:handoff>/", views.HandoffDetail.as_view(), name="handoff"),
    path("cases/", views.CaseList.as_view(), name="cases"),
    path("cases/<uuid:case>/", views.CaseDetail.as_view(), name="case"),
    path("tokens/", views.TokenList.as_view(), name="tokens"),
    path("tokens/<uuid:token>/revoke/", views.TokenRevoke.as_view(), name="token_revoke"),
]

urlpatterns = [
    path("v1/", include(v1)),
    path("schema/", SpectacularAPIView.as_view(), name="schema"),
    # Last: any other path under /api/ (any characters, newlines included)
    # answers in JSON like a missing record.
    re_path(r"^[\s\S]*$", views.NoSuchEndpoint.as_view()),
]
