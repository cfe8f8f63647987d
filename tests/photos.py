"""Real image files for tests: what a phone uploads, metadata included."""

from __future__ import annotations

import io

from PIL import Image

# N 42°54' E 129°30' (Yanji), as a phone writes it: degrees, minutes, seconds.
GPS = {1: "N", 2: (42.0, 54.0, 0.0), 3: "E", 4: (129.0, 30.0, 0.0)}
CAMERA = "SecretPhone X1"
COMMENT = b"taken at the safe house on Jilin Road"


def image_bytes(
    fmt: str = "PNG", size: tuple[int, int] = (64, 48), *, metadata: bool = False, orientation=None
) -> bytes:
    """An image of ``size`` in ``fmt``; with ``metadata``, EXIF GPS, camera and a comment."""
    image = Image.new("RGB", size, (200, 40, 40))
    for x in range(size[0] // 2):  # a mark on the left half, to see a rotation
        image.putpixel((x, 0), (0, 0, 255))
    out = io.BytesIO()
    kwargs: dict = {}
    if metadata or orientation:
        exif = Image.Exif()
        if metadata:
            exif[0x0110] = CAMERA  # Model
            exif.get_ifd(0x8825).update(GPS)
        if orientation:
            exif[0x0112] = orientation
        kwargs["exif"] = exif.tobytes()
    if metadata and fmt == "JPEG":
        kwargs["comment"] = COMMENT
    image.save(out, format=fmt, **kwargs)
    return out.getvalue()


PNG = image_bytes("PNG")
JPEG = image_bytes("JPEG")


def opened(data: bytes) -> Image.Image:
    return Image.open(io.BytesIO(data))
