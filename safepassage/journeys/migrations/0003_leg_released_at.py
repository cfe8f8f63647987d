from django.db import migrations, models
from django.db.models import Q


def release_started_journeys(apps, schema_editor):
    """Legs of journeys already started were released when they started; the
    legs of journeys still being planned are not released, and the keys their
    cells were given too early are taken back (no key is needed to delete a
    wrapped copy; the compartment is marked for rotation by the next
    coordinator who opens it)."""
    Leg = apps.get_model("journeys", "Leg")
    Handoff = apps.get_model("journeys", "Handoff")
    Compartment = apps.get_model("vault", "Compartment")
    CompartmentGrant = apps.get_model("vault", "CompartmentGrant")
    PendingGrant = apps.get_model("vault", "PendingGrant")
    for leg in Leg.objects.exclude(journey__status="planning").select_related("journey"):
        leg.released_at = leg.started_at or leg.journey.created_at
        leg.save(update_fields=["released_at"])
    unreleased = Leg.objects.filter(released_at__isnull=True)
    released = Leg.objects.filter(released_at__isnull=False)
    hidden = set(unreleased.values_list("compartment_id", flat=True)) | set(
        Handoff.objects.exclude(Q(from_leg__in=released) | Q(to_leg__in=released)).values_list(
            "compartment_id", flat=True
        )
    )
    grants = CompartmentGrant.objects.filter(compartment_id__in=hidden, holder_kind="member")
    touched = set(grants.values_list("compartment_id", flat=True))
    grants.delete()
    PendingGrant.objects.filter(compartment_id__in=hidden).delete()
    Compartment.objects.filter(pk__in=touched).update(rotation_due=True)


class Migration(migrations.Migration):
    dependencies = [
        ("journeys", "0002_initial"),
        ("vault", "0001_initial"),
    ]

    operations = [
        migrations.AddField(
            model_name="leg",
            name="released_at",
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.RunPython(release_started_journeys, migrations.RunPython.noop),
    ]
