from django.urls import path

from . import views

app_name = "cases"
urlpatterns = [
    path("", views.list_view, name="list"),
    path("new/", views.new_view, name="new"),
    path("<uuid:case>/", views.detail_view, name="detail"),
    path("<uuid:case>/edit/", views.edit_view, name="edit"),
    path("<uuid:case>/notes/", views.note_view, name="note"),
    path("<uuid:case>/status/", views.status_view, name="status"),
    path("<uuid:case>/travellers/new/", views.traveller_new_view, name="traveller_new"),
    path("<uuid:case>/coordinators/add/", views.coordinator_add_view, name="coordinator_add"),
    path("<uuid:case>/purge/", views.purge_view, name="purge"),
    path("travellers/<uuid:traveller>/edit/", views.traveller_edit_view, name="traveller_edit"),
    path(
        "travellers/<uuid:traveller>/delete/", views.traveller_delete_view, name="traveller_delete"
    ),
    path("notes/<uuid:note>/delete/", views.note_delete_view, name="note_delete"),
]
