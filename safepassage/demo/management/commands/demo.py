"""`safepassage demo`: build the fictional demo organisation and print its logins."""

from __future__ import annotations

import os
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from safepassage.demo.scenario import LOGINS, build_demo, demo_exists

SHARES_FILE_NAME = "demo-recovery-shares.txt"


def default_shares_path() -> Path:
    return Path(settings.VAR_DIR) / SHARES_FILE_NAME


def write_private_file(path: Path, text: str) -> None:
    """Write ``text`` to a new file ``path`` readable by its owner only (0600).

    Never overwrites: a file of secrets that exists already (another demo
    database's recovery shares) raises FileExistsError and is left as it was.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        os.write(fd, text.encode("utf-8"))
    finally:
        os.close(fd)


def free_shares_path(path: Path) -> Path:
    """``path``, or the first ``<stem>-2<suffix>``, ``-3``... that does not exist yet."""
    candidate, n = path, 1
    while candidate.exists():
        n += 1
        candidate = path.with_name(f"{path.stem}-{n}{path.suffix}")
    return candidate


class Command(BaseCommand):
    help = (
        "Build a fictional demo organisation (two coordinators, six cells, three cases) "
        "with fixed, printed logins. For trying safepassage out on your own machine: "
        "never run it on a server that holds real records."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--if-absent",
            action="store_true",
            help="If the demo organisation exists already, change nothing and print its logins.",
        )
        parser.add_argument(
            "--shares-file",
            default=None,
            help=f"Where to write the demo's recovery shares (default: var/{SHARES_FILE_NAME}).",
        )
        parser.add_argument(
            "--allow-without-debug",
            action="store_true",
            help="Build it even though DEBUG is off (test and staging machines only).",
        )

    def handle(self, *args, **options):
        chosen = Path(options["shares_file"]) if options["shares_file"] else None
        shares_path = chosen or default_shares_path()
        if demo_exists():
            if not options["if_absent"]:
                raise CommandError(
                    "A demo organisation exists already. Use --if-absent to print its logins."
                )
            self.stdout.write("The demo organisation exists already; nothing changed.")
            self._print_logins()
            if shares_path.exists():
                self.stdout.write(f"Its recovery shares are in {shares_path}.")
            return
        if not settings.DEBUG and not options["allow_without_debug"]:
            raise CommandError(
                "DEBUG is off: this looks like a real server, and the demo's passwords are "
                "public. Use --allow-without-debug if this machine holds no real records."
            )
        if chosen is not None and chosen.exists():
            raise CommandError(
                f"{chosen} exists already and may hold another organisation's recovery shares; "
                "it is never overwritten. Name a new file."
            )
        # The default file may belong to a demo built in another database: the
        # new shares go beside it, never over it.
        shares_path = free_shares_path(shares_path)
        self.stdout.write("Building the demo organisation (one key derivation per member)...")
        result = build_demo()
        write_private_file(
            shares_path,
            "Recovery shares of the safepassage demo organisation (any 2 of 3 rebuild "
            "its recovery key). Fictional data; keep real shares offline, never like this.\n"
            + "".join(f"{share}\n" for share in result.recovery_shares),
        )
        self.stdout.write(
            self.style.SUCCESS("Demo organisation built. Everyone in it is fictional.")
        )
        self._print_logins()
        self.stdout.write(f"Recovery shares (any 2 of 3) written to {shares_path} (mode 0600).")

    def _print_logins(self) -> None:
        width = max(len(handle) for handle, _password, _what in LOGINS)
        pwidth = max(len(password) for _handle, password, _what in LOGINS)
        self.stdout.write("\nDemo logins (handle / password / who):")
        for handle, password, what in LOGINS:
            self.stdout.write(f"  {handle:<{width}}  {password:<{pwidth}}  {what}")
        self.stdout.write(
            "\nCoordinators land on the dashboard; cell members on their field pages (/field/).\n"
            "At a coordinator's first login, set up an authenticator app (any TOTP app: scan the\n"
            "QR code, or type the secret shown); it asks for a code at every login after that.\n"
        )
