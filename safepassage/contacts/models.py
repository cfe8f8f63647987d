"""Contacts: helpers outside the system (brokers, drivers hired per job).

Their track record matters: brokers have asked for more money mid-journey,
made unscheduled stops and sold travellers.
"""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _

from safepassage.vault.fields import SealedField, SealedModel


class ContactStatus(models.TextChoices):
    ACTIVE = "active", _("Active")
    DO_NOT_USE = "do_not_use", _("Do not use")
    COMPROMISED = "compromised", _("Compromised")


class Contact(SealedModel):
    organisation = models.ForeignKey(
        "organisations.Organisation", on_delete=models.CASCADE, related_name="contacts"
    )
    name = SealedField(compartment="organisation.coordinators_compartment", max_chars=200)
    role_description = SealedField(
        compartment="organisation.coordinators_compartment", max_chars=500
    )
    phone = SealedField(compartment="organisation.coordinators_compartment", max_chars=40)
    notes = SealedField(compartment="organisation.coordinators_compartment")
    status = models.CharField(
        max_length=20, choices=ContactStatus.choices, default=ContactStatus.ACTIVE
    )
    created_at = models.DateTimeField(auto_now_add=True)
