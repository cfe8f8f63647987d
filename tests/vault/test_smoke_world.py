"""The test world builds, and its key graph follows the grant rules."""

from safepassage.journeys.models import Handoff
from safepassage.vault.keyring import unlocked


def test_cell_member_opens_own_leg_and_adjacent_handoffs_only(world):
    _member, ring = world.member(0)
    opened = ring.load_everything()
    leg = world.legs[0]
    expected = (
        {leg.compartment_id}
        | set(Handoff.objects.filter(from_leg=leg).values_list("compartment_id", flat=True))
        | set(Handoff.objects.filter(to_leg=leg).values_list("compartment_id", flat=True))
    )
    assert opened == expected
    with unlocked(ring):
        assert type(leg).objects.get(pk=leg.pk).route == "Yanji to Changchun"
