"""Retention by crypto-shredding (DESIGN.md: "Deleting rows alone is not a purge").

A case is purged ``SAFEPASSAGE_RETENTION_DAYS`` after it arrived or was
closed (by the worker, or ``safepassage purge``), or at once by one of its
coordinators (``services.do_purge_case``). A purge, in one transaction:

1. destroys every wrapped copy of the keys of the case's compartment and of
   the compartments below it (its legs and handoffs): the member, parent and
   recovery grants and the pending grants
   (``vault.services.shred_compartments``). Those keys existed nowhere else,
   so from the commit on no key the server holds opens anything sealed in
   them, wherever its ciphertext lies: free database pages, the WAL, a
   replica, a backup;
2. then deletes the rows: the case, its travellers, timeline and
   coordinators' links, its journeys, legs and handoffs, their check-in
   plans, deadlines and check-ins, the alerts raised on them with their
   notes, notifications and deliveries, anything else sealed in those
   compartments, and finally the compartments themselves.

No tombstone row is kept: a case's existence, dates and status history are
metadata a seizure should not learn either. The only trace is the audit
log's ``case.purge`` entry (sealed to the coordinators): the case's id and
counts of what was destroyed.

What a backup taken before the purge still holds is described in
docs/BACKUPS.md.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.conf import settings
from django.db import DatabaseError, router, transaction
from django.db.models import Q, QuerySet
from django.db.models.deletion import Collector
from django.utils import timezone

from safepassage.audit import services as audit
from safepassage.vault import services as vault
from safepassage.vault.fields import SealedField

from .models import Case, CaseStatus

log = logging.getLogger("safepassage.retention")

# Cases purged per call of ``purge_expired``: each is its own transaction,
# and the worker comes back for the rest at its next tick.
BATCH = 20


@dataclass(frozen=True)
class PurgeReport:
    """What a purge destroyed (or, for a plan, would destroy). Counts and ids only."""

    case_id: uuid.UUID
    organisation_id: uuid.UUID
    status: str
    ended_at: datetime | None
    compartments: int
    member_grants: int
    parent_grants: int
    recovery_grants: int
    pending_grants: int
    # Rows deleted with the case, by model label ("cases.Traveller": 2).
    records: dict[str, int] = field(default_factory=dict)
    done: bool = True

    @property
    def grants(self) -> int:
        """Wrapped copies of keys destroyed."""
        return self.member_grants + self.parent_grants + self.recovery_grants

    @property
    def rows(self) -> int:
        return sum(self.records.values())

    def record_count(self, label: str) -> int:
        return self.records.get(label, 0)

    def audit_detail(self) -> dict:
        return {
            "compartments": self.compartments,
            "key_copies": {
                "member": self.member_grants,
                "parent": self.parent_grants,
                "recovery": self.recovery_grants,
            },
            "pending_grants": self.pending_grants,
            "records": dict(sorted(self.records.items())),
        }


def ended_at(case: Case) -> datetime | None:
    """When the case arrived or was closed (None while it is open).

    An arrived case can only be closed next, so its last status change is its
    arrival. A case closed after arriving counts from its closure: the
    arrival date is not kept in plaintext, and purging late is the
    recoverable mistake.
    """
    if case.status == CaseStatus.CLOSED:
        return case.closed_at or case.status_changed_at
    if case.status == CaseStatus.ARRIVED:
        return case.status_changed_at
    return None


def purge_due(case: Case) -> datetime | None:
    """When the retention policy purges ``case`` (None: not while it is open,
    or never when automatic purging is off)."""
    days = settings.SAFEPASSAGE_RETENTION_DAYS
    ended = ended_at(case)
    if days <= 0 or ended is None:
        return None
    return ended + timedelta(days=days)


def expired_cases(*, now: datetime | None = None) -> QuerySet[Case]:
    """Cases that arrived or were closed more than the retention period ago."""
    days = settings.SAFEPASSAGE_RETENTION_DAYS
    if days <= 0:
        return Case.objects.none()
    cutoff = (now or timezone.now()) - timedelta(days=days)
    return Case.objects.filter(
        Q(status=CaseStatus.CLOSED, closed_at__lte=cutoff)
        | Q(status=CaseStatus.CLOSED, closed_at__isnull=True, status_changed_at__lte=cutoff)
        | Q(status=CaseStatus.ARRIVED, status_changed_at__lte=cutoff)
    ).order_by("status_changed_at", "pk")


def case_compartment_ids(case: Case) -> set[uuid.UUID]:
    """The case's compartment and those of its legs and handoffs.

    The legs' and handoffs' keys are wrapped under the case's key, so
    ``vault.compartments_below`` would find them anyway; naming them here
    also catches one whose parent grant went missing.
    """
    from safepassage.journeys.models import Handoff, Leg

    return (
        {case.compartment_id}
        | set(Leg.objects.filter(journey__case=case).values_list("compartment_id", flat=True))
        | set(Handoff.objects.filter(journey__case=case).values_list("compartment_id", flat=True))
    )


def _collected(case: Case) -> dict[str, int]:
    """The rows deleting ``case`` would delete with it, by model label (reads only)."""
    collector = Collector(using=router.db_for_write(Case), origin=case)
    collector.collect([case])
    # A row can be reached twice (a handoff through its journey and its leg):
    # count ids, as the deletion itself does.
    ids: dict[str, set] = {}
    for model, instances in collector.data.items():
        ids.setdefault(model._meta.label, set()).update(obj.pk for obj in instances)
    for queryset in collector.fast_deletes:
        ids.setdefault(queryset.model._meta.label, set()).update(
            queryset.values_list("pk", flat=True)
        )
    return {label: len(pks) for label, pks in ids.items() if pks}


def purge_plan(case: Case) -> PurgeReport:
    """What purging ``case`` now would destroy (reads only; for the
    confirmation page and ``safepassage purge --dry-run``)."""
    shred = vault.shred_plan(compartment_ids=case_compartment_ids(case))
    return PurgeReport(
        case_id=case.pk,
        organisation_id=case.organisation_id,
        status=case.status,
        ended_at=ended_at(case),
        compartments=len(shred.compartment_ids),
        member_grants=shred.member_grants,
        parent_grants=shred.parent_grants,
        recovery_grants=shred.recovery_grants,
        pending_grants=shred.pending_grants,
        records=_collected(case),
        done=False,
    )


def _delete_sealed_leftovers(compartment_ids: set[uuid.UUID], counts: dict[str, int]) -> None:
    """Delete any record still sealed in a shredded compartment (none are
    expected once the case is gone: this keeps a future model that forgets
    to hang under the case from blocking or surviving the purge)."""
    ids = list(compartment_ids)
    for model in vault.sealed_models():
        lookups = {f.compartment_lookup() for f in model._meta.fields if isinstance(f, SealedField)}
        for lookup in lookups:
            _total, by_model = model._base_manager.filter(**{f"{lookup}__in": ids}).delete()
            for label, n in by_model.items():
                if n:
                    counts[label] = counts.get(label, 0) + n


def purge_case(*, case: Case, actor=None) -> PurgeReport:
    """Shred the case's keys, delete its rows, write the audit entry.

    No permission check (``services.do_purge_case`` checks the actor;
    ``purge_expired`` acts for the retention policy). Must run inside the
    caller's transaction, with the case's row locked.
    """
    status, ended = case.status, ended_at(case)
    shred = vault.shred_compartments(compartment_ids=case_compartment_ids(case))
    # A stand-in with the same id: the audit entry names the case, whose own
    # instance loses its id when deleted.
    target = Case(id=case.pk, organisation_id=case.organisation_id)
    organisation = case.organisation
    _total, deleted = case.delete()
    counts = {label: n for label, n in deleted.items() if n}
    _delete_sealed_leftovers(set(shred.compartment_ids), counts)
    vault.drop_compartments(compartment_ids=shred.compartment_ids)
    report = PurgeReport(
        case_id=target.pk,
        organisation_id=target.organisation_id,
        status=status,
        ended_at=ended,
        compartments=len(shred.compartment_ids),
        member_grants=shred.member_grants,
        parent_grants=shred.parent_grants,
        recovery_grants=shred.recovery_grants,
        pending_grants=shred.pending_grants,
        records=counts,
    )
    detail = report.audit_detail()
    if actor is None:
        detail["retention_days"] = settings.SAFEPASSAGE_RETENTION_DAYS
    audit.record(
        organisation=organisation, actor=actor, verb="case.purge", target=target, detail=detail
    )
    return report


def purge_expired(
    *, now: datetime | None = None, dry_run: bool = False, limit: int = BATCH
) -> list[PurgeReport]:
    """Purge up to ``limit`` expired cases, each in its own transaction.

    With ``dry_run`` nothing changes and the reports say what would go.
    Safe with several workers: each case is re-checked under its row lock,
    and one purged by another worker meanwhile is skipped.
    """
    now = now or timezone.now()
    reports = []
    for case_id in list(expired_cases(now=now).values_list("pk", flat=True)[:limit]):
        if dry_run:
            case = Case.objects.filter(pk=case_id).first()
            if case is not None:
                reports.append(purge_plan(case))
            continue
        try:
            with transaction.atomic():
                case = (
                    expired_cases(now=now)
                    .select_for_update(of=("self",))
                    .filter(pk=case_id)
                    .select_related("organisation")
                    .first()
                )
                if case is None:
                    continue
                reports.append(purge_case(case=case))
        except DatabaseError:
            # One case that cannot be purged (a row protecting it) must not
            # stop the others nor the worker's tick; it stays due and is
            # logged by id only, each time it is tried.
            log.exception("purging case %s failed; it stays due", case_id)
    return reports
