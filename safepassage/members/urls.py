from django.urls import path

from . import views

app_name = "members"
urlpatterns = [
    path("", views.list_view, name="list"),
    path("login/", views.login_view, name="login"),
    path("logout/", views.logout_view, name="logout"),
    path("second-factor/", views.second_factor_view, name="second_factor"),
    path("security/", views.security_view, name="security"),
    path("join/<str:token>/", views.join_view, name="join"),
    path("awaiting/", views.awaiting_view, name="awaiting"),
    path("password/", views.password_view, name="password"),
    path("preferences/", views.preferences_view, name="preferences"),
    path("invite/", views.invite_view, name="invite"),
    path("<uuid:member>/approve/", views.approve_view, name="approve"),
    path("<uuid:member>/remove/", views.remove_view, name="remove"),
    path("<uuid:member>/reinstate/", views.reinstate_view, name="reinstate"),
    path(
        "<uuid:member>/reset-second-factor/",
        views.reset_second_factor_view,
        name="reset_second_factor",
    ),
    path(
        "invitations/<uuid:invitation>/revoke/",
        views.revoke_invitation_view,
        name="revoke_invitation",
    ),
]
