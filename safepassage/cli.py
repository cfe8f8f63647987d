"""The `safepassage` command: Django's manage.py under the project's name.

`safepassage demo`, `safepassage runserver`, `safepassage migrate`, ...
"""

from __future__ import annotations

import os
import sys


def main(argv: list[str] | None = None) -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "safepassage.settings.dev")
    from django.core.management import execute_from_command_line

    execute_from_command_line(["safepassage", *(argv if argv is not None else sys.argv[1:])])


if __name__ == "__main__":
    main()
