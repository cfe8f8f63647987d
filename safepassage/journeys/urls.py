from django.urls import path

from . import views

app_name = "journeys"
urlpatterns = [
    path("new/<uuid:case>/", views.new_view, name="new"),
    path("<uuid:journey>/", views.detail_view, name="detail"),
    path("<uuid:journey>/start/", views.start_view, name="start"),
    path("<uuid:journey>/legs/new/", views.leg_new_view, name="leg_new"),
    path("legs/<uuid:leg>/edit/", views.leg_edit_view, name="leg_edit"),
    path("legs/<uuid:leg>/move/", views.leg_move_view, name="leg_move"),
    path("legs/<uuid:leg>/remove/", views.leg_remove_view, name="leg_remove"),
    path("legs/<uuid:leg>/brief/", views.leg_brief_view, name="leg_brief"),
    path("handoffs/<uuid:handoff>/edit/", views.handoff_edit_view, name="handoff_edit"),
    path("handoffs/<uuid:handoff>/photo/", views.handoff_photo_view, name="handoff_photo"),
    path(
        "handoffs/<uuid:handoff>/delete-detail/",
        views.handoff_detail_delete_view,
        name="handoff_detail_delete",
    ),
    path("handoffs/<uuid:handoff>/phrases/", views.handoff_phrases_view, name="handoff_phrases"),
]
