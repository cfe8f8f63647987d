"""Handoff photos lose their metadata before they are sealed (journeys/photos.py)."""

from __future__ import annotations

import struct
import zlib

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from safepassage.audit.selectors import read_entries
from safepassage.core.errors import ServiceError
from safepassage.journeys import photos
from safepassage.journeys.models import Handoff
from safepassage.journeys.services import do_update_handoff
from safepassage.vault.keyring import unlocked

from ..conftest import vault_login
from ..photos import CAMERA, COMMENT, image_bytes, opened

pytestmark = pytest.mark.django_db


def _tells(data: bytes) -> list[str]:
    """What of the phone's metadata is still in ``data``."""
    found = []
    image = opened(data)
    exif = image.getexif()
    if exif:
        found.append(f"exif {dict(exif)}")
    if exif.get_ifd(0x8825):
        found.append("gps")
    for needle in (CAMERA.encode(), COMMENT, b"Exif", b"http://ns.adobe.com/xap"):
        if needle in data:
            found.append(repr(needle))
    if "comment" in image.info or "icc_profile" in image.info:
        found.append("info")
    return found


def _stored(world, handoff) -> tuple[bytes | None, str | None]:
    with unlocked(world.coord_keyring):
        fresh = Handoff.objects.get(pk=handoff.pk)
        return fresh.photo, fresh.photo_type


def _huge_png(width: int, height: int) -> bytes:
    """A few dozen bytes declaring a width x height image (a decompression bomb's header)."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        return (
            struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))
        )

    header = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(b""))
        + chunk(b"IEND", b"")
    )


def test_a_phones_jpeg_with_gps_is_neither_stored_nor_served_with_it(client, world):
    upload = image_bytes("JPEG", (1600, 1200), metadata=True)
    assert _tells(upload)  # the fixture really carries what a phone writes
    handoff = world.journey.handoffs.get(position=1)
    vault_login(client, world.coord, world.coord_keyring)
    response = client.post(
        reverse("journeys:handoff_edit", args=[handoff.pk]),
        {"photo": SimpleUploadedFile("me.jpg", upload, content_type="image/jpeg")},
    )
    assert response.status_code == 302

    stored, content_type = _stored(world, handoff)
    assert content_type == "image/jpeg"
    assert _tells(stored) == []
    assert max(opened(stored).size) == photos.LONGEST_SIDE  # shrunk for a cheap phone
    assert photos.is_clean(stored)

    for url, member, ring in (
        (reverse("journeys:handoff_photo", args=[handoff.pk]), world.coord, world.coord_keyring),
        (reverse("field:handoff_photo", kwargs={"handoff": handoff.pk}), *world.member(0)),
    ):
        client.logout()
        vault_login(client, member, ring)
        served = client.get(url)
        assert served.status_code == 200
        assert _tells(served.content) == []


def test_the_orientation_is_applied_before_it_is_dropped():
    # Orientation 6: the camera was turned; the viewer must rotate 90 degrees.
    cleaned, _type = photos.clean_photo(image_bytes("JPEG", (80, 40), orientation=6))
    assert opened(cleaned).size == (40, 80)
    assert _tells(cleaned) == []


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (_huge_png(20000, 20000), "too many pixels"),
        (b"GIF89a" + bytes(64), "JPEG, PNG or WebP"),
        (b"\x89PNG\r\n\x1a\n" + b"not really a png" * 4, "JPEG, PNG or WebP"),
        (image_bytes("JPEG")[:60], "JPEG, PNG or WebP"),  # cut off
    ],
)
def test_what_is_not_a_reasonable_image_is_refused_and_nothing_stored(world, data, message):
    handoff = world.journey.handoffs.get(position=1)
    with unlocked(world.coord_keyring), pytest.raises(ServiceError, match=message):
        do_update_handoff(
            actor=world.coord,
            handoff=Handoff.objects.get(pk=handoff.pk),
            place="changed",
            window_start=None,
            window_end=None,
            photo=data,
            photo_type="image/png",
        )
    stored, _type = _stored(world, handoff)
    assert stored is None
    with unlocked(world.coord_keyring):
        assert Handoff.objects.get(pk=handoff.pk).place != "changed"


def test_a_photo_stored_before_cleaning_is_cleaned_at_its_first_opening(client, world):
    handoff = world.journey.handoffs.get(position=1)
    raw = image_bytes("JPEG", (300, 200), metadata=True)
    with unlocked(world.coord_keyring):
        # As an older version stored it: sealed exactly as uploaded.
        old = Handoff.objects.get(pk=handoff.pk)
        old.photo, old.photo_type = raw, "image/jpeg"
        old.save(update_fields=["photo", "photo_type"])
    assert not photos.is_clean(raw)

    member, ring = world.member(0)
    vault_login(client, member, ring)
    served = client.get(reverse("field:handoff_photo", kwargs={"handoff": handoff.pk}))

    assert served.status_code == 200
    assert _tells(served.content) == []
    stored, _type = _stored(world, handoff)
    assert stored == served.content  # sealed again, cleaned
    assert _cleanings(world) == 1
    # A second opening changes nothing more.
    client.get(reverse("field:handoff_photo", kwargs={"handoff": handoff.pk}))
    assert _cleanings(world) == 1


def _cleanings(world) -> int:
    with unlocked(world.coord_keyring):
        entries = read_entries(organisation=world.org)
    return sum(1 for e in entries if e["verb"] == "handoff.photo_cleaned")
