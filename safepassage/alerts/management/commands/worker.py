"""`safepassage worker`: watch deadlines, escalate alerts, send notifications.

Runs ticks in a loop (``--interval`` seconds apart, default
``settings.WORKER_POLL_SECONDS``) until SIGTERM or SIGINT, which finish the
current tick and exit cleanly. ``--once`` runs a single tick. Nothing the
worker keeps in memory matters: every tick starts from the database, so a
killed worker loses nothing and a restarted one picks up where it stopped.
Several workers may run side by side (on PostgreSQL they take disjoint rows
with SKIP LOCKED).
"""

from __future__ import annotations

import logging
import signal
import threading

from django.conf import settings
from django.core.management.base import BaseCommand
from django.db import close_old_connections

log = logging.getLogger("safepassage.worker")


class Command(BaseCommand):
    help = "Watch check-in deadlines, escalate alerts and send notifications."

    def add_arguments(self, parser):
        parser.add_argument("--once", action="store_true", help="Run one tick and exit.")
        parser.add_argument(
            "--interval",
            type=float,
            default=None,
            help="Seconds between ticks (default: SAFEPASSAGE_WORKER_POLL_SECONDS).",
        )

    def handle(self, *args, once: bool = False, interval: float | None = None, **options):
        from safepassage.alerts.worker import tick

        pause = settings.WORKER_POLL_SECONDS if interval is None else interval
        stop = threading.Event()

        def request_stop(signum, frame):
            stop.set()

        if not once:
            signal.signal(signal.SIGTERM, request_stop)
            signal.signal(signal.SIGINT, request_stop)
            log.info("worker started (every %.2fs)", pause)
        while True:
            close_old_connections()
            try:
                done = tick()
            except Exception:
                # One bad tick must not stop the warning system: log and retry.
                log.exception("worker tick failed")
                done = {}
            if once:
                self.stdout.write(
                    "raised {raised} escalated {escalated} delivered {delivered}".format(
                        **{"raised": 0, "escalated": 0, "delivered": 0, **done}
                    )
                )
                return
            if any(done.values()):
                log.info("tick: %s", done)
            if stop.wait(pause):
                break
        log.info("worker stopped")
