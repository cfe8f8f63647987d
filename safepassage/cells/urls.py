from django.urls import path

from . import views

app_name = "cells"
urlpatterns = [
    path("", views.list_view, name="list"),
    path("new/", views.new_view, name="new"),
    path("<uuid:cell>/", views.detail_view, name="detail"),
    path("<uuid:cell>/edit/", views.edit_view, name="edit"),
    path("<uuid:cell>/members/add/", views.member_add_view, name="member_add"),
    path("<uuid:cell>/members/remove/", views.member_remove_view, name="member_remove"),
    path("<uuid:cell>/members/lead/", views.member_lead_view, name="member_lead"),
]
