"""Compile the gettext catalogues (.po) into the binary form Django reads (.mo).

Pure Python (polib), so a fresh machine needs no GNU gettext: ``make install``
runs it after installing the package. Each ``.mo`` is written next to its ``.po``
in every directory of ``settings.LOCALE_PATHS``.
"""

from __future__ import annotations

import os
from pathlib import Path

import polib
from django.conf import settings
from django.core.management.base import BaseCommand


def catalogues() -> list[Path]:
    """Every .po file under the configured locale paths, in a stable order."""
    found: list[Path] = []
    for root in settings.LOCALE_PATHS:
        found.extend(sorted(Path(root).glob("*/LC_MESSAGES/*.po")))
    return found


def compile_catalogue(po_path: Path) -> Path:
    """Write ``po_path``'s .mo next to it, leaving out fuzzy entries as msgfmt does."""
    catalogue = polib.pofile(str(po_path))
    for entry in catalogue.fuzzy_entries():
        catalogue.remove(entry)
    mo_path = po_path.with_suffix(".mo")
    # Written aside and renamed into place, so a process reading the catalogue
    # meanwhile (a running server, a parallel test) never sees half a file.
    partial = mo_path.with_name(f"{mo_path.name}.{os.getpid()}.tmp")
    catalogue.save_as_mofile(str(partial))
    os.replace(partial, mo_path)
    return mo_path


def compile_all() -> list[Path]:
    return [compile_catalogue(po) for po in catalogues()]


class Command(BaseCommand):
    help = "Compile every .po catalogue in LOCALE_PATHS to a .mo file next to it (no GNU gettext needed)."

    def handle(self, *args, **options) -> None:
        written = compile_all()
        for mo_path in written:
            self.stdout.write(f"compiled {mo_path}")
        if not written:
            self.stdout.write("no catalogues found")
