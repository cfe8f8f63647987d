"""Handoff photos: decoded, stripped, shrunk and re-encoded before sealing.

A photo a coordinator uploads was usually taken with a phone, and a phone
writes where and when into the file (EXIF GPS, XMP, IPTC, maker notes,
comments). Sealing it as uploaded would hand that to every cell that opens
it, and to anyone who takes a cell member's phone. So every photo is
decoded with Pillow, refused unless it is a JPEG, PNG or WebP image within
the pixel limit, turned the way its orientation tag says, shrunk so its
longer side is at most ``LONGEST_SIDE`` pixels (a cheap phone over a bad
link) and written anew as a baseline JPEG with no metadata block at all:
the new file is built from the pixels only, so nothing of the old file's
headers can survive.
"""

from __future__ import annotations

import io
import warnings

from django.utils.translation import gettext as _
from PIL import Image, ImageOps, UnidentifiedImageError

from safepassage.core.errors import ServiceError

# Formats accepted on upload (what Pillow decodes them as).
ACCEPTED_FORMATS = {"JPEG", "PNG", "WEBP"}
# Width x height refused before decoding: a small file can declare a huge
# image (a 48 KB PNG of 20000 x 20000) and take the server's memory.
MAX_PIXELS = 40_000_000
# The longer side of a stored photo: enough to recognise a face or a car.
LONGEST_SIDE = 1024
JPEG_QUALITY = 80
# What every stored photo is.
STORED_TYPE = "image/jpeg"


def _refuse() -> ServiceError:
    return ServiceError(_("The photo must be a JPEG, PNG or WebP image."))


def _too_many_pixels() -> ServiceError:
    return ServiceError(
        _("The photo has too many pixels (%(limit)s million at most).")
        % {"limit": MAX_PIXELS // 1_000_000}
    )


def clean_photo(data: bytes) -> tuple[bytes, str]:
    """(JPEG bytes with no metadata, ``"image/jpeg"``) for an uploaded photo.

    Raises ``ServiceError`` for anything that is not an accepted image, is
    damaged, or has more than ``MAX_PIXELS`` pixels.
    """
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            source = Image.open(io.BytesIO(data))
            if source.format not in ACCEPTED_FORMATS:
                raise _refuse()
            width, height = source.size
            if width * height > MAX_PIXELS:
                raise _too_many_pixels()
            source.load()
            turned = ImageOps.exif_transpose(source)
    except ServiceError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        # Pillow's own guard, met at Image.open for a header far past ours.
        raise _too_many_pixels() from exc
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError, EOFError) as exc:
        raise _refuse() from exc
    if turned.mode in ("RGBA", "LA", "PA") or (
        turned.mode == "P" and "transparency" in turned.info
    ):
        # A transparent background becomes white, as it looks on the page.
        rgba = turned.convert("RGBA")
        flat = Image.new("RGB", rgba.size, (255, 255, 255))
        flat.paste(rgba, mask=rgba.getchannel("A"))
        turned = flat
    turned = turned.convert("RGB")
    turned.thumbnail((LONGEST_SIDE, LONGEST_SIDE), Image.Resampling.LANCZOS)
    # The pixels alone, in a new image: no info dict, no EXIF, no ICC profile,
    # no XMP, no comment is carried over from the upload.
    clean = Image.frombytes("RGB", turned.size, turned.tobytes())
    out = io.BytesIO()
    clean.save(out, format="JPEG", quality=JPEG_QUALITY, optimize=True)
    return out.getvalue(), STORED_TYPE


def is_clean(data: bytes) -> bool:
    """Whether ``data`` is already what ``clean_photo`` stores.

    A JPEG within ``LONGEST_SIDE`` whose only segments before the image data
    are the ones Pillow's encoder writes (JFIF APP0, tables, frame): any APPn
    block from APP1 up (EXIF, XMP, ICC, IPTC) or a comment means it was
    stored before photos were cleaned.
    """
    if not data.startswith(b"\xff\xd8"):
        return False
    try:
        image = Image.open(io.BytesIO(data))
        if image.format != "JPEG" or max(image.size) > LONGEST_SIDE:
            return False
    except (UnidentifiedImageError, OSError, ValueError):
        return False
    position = 2
    while position + 4 <= len(data) and data[position] == 0xFF:
        marker = data[position + 1]
        if marker == 0xDA:  # start of scan: the headers are over
            return True
        if marker == 0xFE or 0xE1 <= marker <= 0xEF:  # a comment or APP1..APP15
            return False
        length = int.from_bytes(data[position + 2 : position + 4], "big")
        position += 2 + length
    return False
