"""The organisation a duress password opens: an innocuous one with a past.

A coercer who makes a member log in with their duress password reads what
the session reaches. An empty organisation founded minutes ago, or a log
whose first entry names an odd account, would tell them the account is a
decoy. So each decoy gets an organisation of its own that does ordinary,
harmless work (language classes, food parcels, clinic visits): several
members who joined over months, a few teams, a caseload of people helped,
and an audit log that runs from the organisation's founding, months before
the member's own organisation was created, up to the day the duress
password is set (its members' logins go on until then).

Everything is drawn at random for each decoy, and built through the same
services a real organisation is built with, so every page shows it as it
shows real records. Only the times are set: each step runs at a time in
the past (``_Clock``); its audit entries are held and written as the
opening history of the new chain (``audit.opening_history``), and the rows
it created are dated to that time. The chain is numbered from 1, hashed and
MACed as any other, and verifies.

The other members are never logged into. Their key pairs are real (keys
are wrapped to them as to anyone), but the private halves are thrown away
and their sealed private keys are random bytes no password opens: no key
derivation is spent on them, so setting a duress password stays quick.

Every page added to the coordinators' part of safepassage needs its cover
here too (see docs/SECURITY.md, "Duress passwords").
"""

from __future__ import annotations

import bisect
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from safepassage.audit import services as audit
from safepassage.cases.models import Case, CaseCoordinator, CaseEvent, CaseStatus, Traveller
from safepassage.cases.services import (
    do_add_case_coordinator,
    do_add_case_note,
    do_add_traveller,
    do_change_case_status,
    do_open_case,
)
from safepassage.cells.models import Cell, CellMembership
from safepassage.cells.services import add_member_to_cell_keys, do_create_cell
from safepassage.organisations.models import Organisation
from safepassage.organisations.services import new_organisation
from safepassage.roles import Role
from safepassage.vault import crypto, opened
from safepassage.vault import services as vault
from safepassage.vault.checks import kdf_params
from safepassage.vault.keyring import Keyring, unlocked
from safepassage.vault.models import Compartment, CompartmentGrant

from .models import Invitation, Member, MemberStatus
from .services import INVITATION_LIFETIME, do_approve_member, do_invite_member

_random = secrets.SystemRandom()

GIVEN_NAMES = (
    "minji", "jiwoo", "seojun", "hana", "yuna", "daniel", "grace", "sarah", "joseph",
    "mei", "lin", "wei", "hyejin", "sungmin", "esther", "paul", "ruth", "jun", "soyeon",
    "taeho", "ling", "xiaoyu", "david", "anna", "eunji", "minho", "joy", "samuel",
)  # fmt: skip
FAMILY_NAMES = (
    "kim", "lee", "park", "choi", "jung", "kang", "cho", "yoon", "wang", "li", "zhang",
    "chen", "liu", "han", "shin", "oh", "song", "lim", "zhao", "huang",
)  # fmt: skip

# Days between the cover's founding and the member's own start (the
# earlier of their organisation's creation and their joining it).
FOUNDED_BEFORE_DAYS = (90, 540)


def _teams() -> list[tuple[str, str]]:
    """(code name, what the team does) of the cover's cells."""
    return [
        (_("Saturday language class"), _("Korean and English lessons for newcomers")),
        (_("Food parcel round"), _("Packing and delivering weekly food parcels")),
        (_("Clinic companions"), _("Going along to clinic and hospital appointments")),
    ]


def _kinds() -> list[dict[str, str]]:
    """The kinds of help a case of the cover is about: its code name (with
    the person's name), needs, summary and the notes added to it."""
    return [
        {
            "codename": _("Language class: %(name)s"),
            "needs": _("Beginner Korean lessons twice a week."),
            "summary": _(
                "Joined the Saturday class; practising reading and everyday conversation."
            ),
            "note": _("Came to both lessons this week and did the homework."),
        },
        {
            "codename": _("Food parcels: %(name)s"),
            "needs": _("A weekly food parcel for a family of four."),
            "summary": _("Parcels delivered on Thursdays; the family prefers rice to noodles."),
            "note": _("Parcel delivered; asked for more vegetables next time."),
        },
        {
            "codename": _("Clinic visits: %(name)s"),
            "needs": _("Someone to go along to hospital appointments and help with the forms."),
            "summary": _("Regular check-ups at the district clinic."),
            "note": _("Appointment moved to next Thursday morning."),
        },
        {
            "codename": _("Job search: %(name)s"),
            "needs": _("Help writing a CV and preparing for interviews."),
            "summary": _("Looking for work in a restaurant kitchen; CV drafted."),
            "note": _("Practised interview questions; second interview on Monday."),
        },
        {
            "codename": _("Tenancy paperwork: %(name)s"),
            "needs": _("Help reading a lease and setting up the utilities."),
            "summary": _("Moved into a small flat; the electricity account is now in her name."),
            "note": _("Called the landlord about the broken heater."),
        },
    ]


@dataclass
class _Person:
    member: Member
    joined: datetime
    logins: list[datetime] = field(default_factory=list)


class _Clock:
    """Runs each step of the build at a time in the past. The step's audit
    entries are held at that time; the rows it created, dated now by the
    database defaults, are dated to it once the build is done (``date_rows``):
    the real time a row was made says which step made it."""

    def __init__(
        self, organisation: Organisation, history: audit.OpeningHistory, started: datetime
    ) -> None:
        self.organisation = organisation
        self.history = history
        # Every row of the organisation dated after this was made by the build.
        self.started = started
        # Nothing is dated after the moment the duress password is set.
        self.latest = started - timedelta(seconds=2)
        # (real time the step ended, the time it ran at), in order.
        self._ends: list[datetime] = []
        self._times: list[datetime] = []

    def clamp(self, when: datetime) -> datetime:
        return min(when, self.latest)

    def after(self, when: datetime, *, minutes: tuple[float, float]) -> datetime:
        """A time some minutes after ``when``; closer to it if that would be
        too late, so that steps in a row keep their order and their times
        differ (a member who joined just now)."""
        later = when + timedelta(minutes=_random.uniform(*minutes))
        if later <= self.latest:
            return later
        return when + max(self.latest - when, timedelta(0)) * _random.uniform(0.2, 0.8)

    def also_at(self, when: datetime) -> datetime:
        """Date the entries recorded next, in the current step, at ``when``."""
        when = self.clamp(when)
        self.history.at(when)
        return when

    @contextmanager
    def at(self, when: datetime) -> Iterator[datetime]:
        """Run the block at ``when`` (no later than the build's start)."""
        when = self.clamp(when)
        self.history.at(when)
        yield when
        self._ends.append(timezone.now())
        self._times.append(when)

    def _when(self, made: datetime) -> datetime:
        """The time of the step that made a row at real time ``made``: the
        first to end after it (a row made between steps belongs to the next)."""
        step = bisect.bisect_left(self._ends, made)
        return self._times[min(step, len(self._times) - 1)]

    def date_rows(self) -> None:
        """Date every row the build made to the time of the step that made it."""
        org, since = self.organisation, self.started
        dated: tuple[tuple[QuerySet[Any], tuple[str, ...]], ...] = (
            (Organisation.objects.filter(pk=org.pk), ("created_at",)),
            (Member.objects.filter(organisation=org), ("date_joined",)),
            (Cell.objects.filter(organisation=org), ("created_at",)),
            (CellMembership.objects.filter(cell__organisation=org), ("joined_at",)),
            (
                Case.objects.filter(organisation=org),
                ("opened_at", "status_changed_at", "closed_at"),
            ),
            (CaseCoordinator.objects.filter(case__organisation=org), ("added_at",)),
            (Traveller.objects.filter(case__organisation=org), ("created_at",)),
            (CaseEvent.objects.filter(case__organisation=org), ("at",)),
            (Compartment.objects.filter(organisation=org), ("created_at",)),
            (CompartmentGrant.objects.filter(compartment__organisation=org), ("created_at",)),
            (Invitation.objects.filter(organisation=org), ("created_at", "accepted_at")),
        )
        for rows, names in dated:
            changed: list[Any] = []
            for row in rows.only("pk", *names):
                fields = {}
                for name in names:
                    made = getattr(row, name)
                    if made is not None and made >= since:
                        fields[name] = self._when(made)
                if isinstance(row, Invitation) and "created_at" in fields:
                    fields["expires_at"] = fields["created_at"] + INVITATION_LIFETIME
                for name, value in fields.items():
                    setattr(row, name, value)
                if fields:
                    changed.append(row)
            if changed:
                every = [*names, "expires_at"] if rows.model is Invitation else list(names)
                rows.model._default_manager.bulk_update(changed, every, batch_size=200)


def _between(start: datetime, end: datetime) -> datetime:
    if end <= start:
        return start
    return start + (end - start) * _random.random()


def _handle_and_name(taken: set[str]) -> tuple[str, str]:
    """A plausible handle nobody has, and the display name that goes with it."""
    for _attempt in range(100):
        given, family = _random.choice(GIVEN_NAMES), _random.choice(FAMILY_NAMES)
        handle = _random.choice(
            (
                f"{given}.{family[0]}",
                f"{given}.{family}",
                f"{given[0]}{family}",
                f"{given}{_random.randint(2, 99)}",
                f"{given}_{family}",
            )
        )
        if handle in taken or Member.objects.filter(handle__iexact=handle).exists():
            continue
        taken.add(handle)
        return handle, f"{given.capitalize()} {family.capitalize()}"
    handle = f"{_random.choice(GIVEN_NAMES)}.{secrets.randbelow(10_000)}"
    taken.add(handle)
    return handle, handle


def _member(*, organisation, handle: str, role: str, language: str, time_zone: str) -> Member:
    """A member of the cover who is never logged into: awaiting approval,
    with a real public key and a sealed private key nothing opens."""
    public_key, _private = crypto.new_keypair()
    sealed, salt = crypto.unopenable_sealed_private_key()
    params = kdf_params()
    member = Member(
        organisation=organisation,
        handle=handle,
        role=role,
        status=MemberStatus.AWAITING_APPROVAL,
        public_key=public_key,
        sealed_private_key=sealed,
        kdf_salt=salt,
        kdf_opslimit=params.opslimit,
        kdf_memlimit=params.memlimit,
        language=language,
        time_zone=time_zone,
    )
    member.set_unusable_password()
    member.save()
    return member


def build_cover(*, actor: Member, duress_password: str, name: str, display_name: str) -> Member:
    """Create the organisation ``actor``'s duress password opens and return
    its account: the actor's handle, role, language, time zone and join
    date, with ``display_name``, in an organisation named ``name``. Must run
    inside the caller's transaction."""
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("build_cover must run inside the caller's transaction")
    own = actor.organisation
    language, time_zone = actor.language, actor.time_zone
    started = timezone.now()
    new = new_organisation(
        name=name,
        founder_password=duress_password,
        founder_display_name=display_name,
        recovery_threshold=own.recovery_threshold or 2,
        recovery_holders=own.recovery_holders or 3,
        handle=actor.handle,
        decoy_of=actor,
        role=actor.role,
        language=language,
        time_zone=time_zone,
    )
    organisation, decoy = new.organisation, new.founder
    if not isinstance(decoy, Member):
        raise TypeError("the organisation's founder is not a member")
    start = min(own.created_at, actor.date_joined, timezone.now())
    founded = start - timedelta(days=_random.uniform(*FOUNDED_BEFORE_DAYS))
    with (
        translation.override(language),
        unlocked(new.keyring),
        opened.paused(),
        audit.opening_history(organisation=organisation) as history,
    ):
        cover = _Cover(
            _Clock(organisation, history, started),
            keyring=new.keyring,
            decoy=decoy,
            display_name=display_name,
            founded=founded,
            joined=actor.date_joined,
        )
        cover.build(language=language, time_zone=time_zone)
        cover.clock.date_rows()
    return decoy


class _Cover:
    """One cover being built, step by step, in order of time."""

    def __init__(
        self,
        clock: _Clock,
        *,
        keyring: Keyring,
        decoy: Member,
        display_name: str,
        founded: datetime,
        joined: datetime,
    ) -> None:
        self.clock = clock
        self.organisation = clock.organisation
        self.keyring = keyring
        self.decoy = decoy
        self.display_name = display_name
        self.founded = clock.clamp(founded)
        self.joined = clock.clamp(max(joined, self.founded + timedelta(days=1)))
        self.taken: set[str] = {decoy.handle}
        self.people: list[_Person] = []
        # (case, when it was opened, who coordinates it and since when)
        self.caseload: list[tuple[Case, datetime, dict[Any, datetime]]] = []

    @property
    def now(self) -> datetime:
        return self.clock.latest

    def coordinators(self, by: datetime) -> list[_Person]:
        return [
            p
            for p in self.people
            if p.member.role == Role.COORDINATOR and p.joined <= by and p.member is not self.decoy
        ]

    def build(self, *, language: str, time_zone: str) -> None:
        founder = self.found(language=language, time_zone=time_zone)
        cells, last_cell = self.cells(founder)
        self.colleagues(cells, last_cell, language=language, time_zone=time_zone)
        self.join_decoy(cells)
        self.cases()
        self.logins()

    # --- the organisation and its people ---------------------------------------------

    def found(self, *, language: str, time_zone: str) -> _Person:
        """The founder, a coordinator who is not the decoy: the first entry."""
        handle, name = _handle_and_name(self.taken)
        member = _member(
            organisation=self.organisation,
            handle=handle,
            role=Role.COORDINATOR,
            language=language,
            time_zone=time_zone,
        )
        with self.clock.at(self.founded) as when:
            member.status = MemberStatus.ACTIVE
            member.display_name = name
            member.save(update_fields=["status", "display_name"])
            vault.grant_to_member(
                compartment=self.organisation.coordinators_compartment,
                member=member,
                keyring=self.keyring,
            )
            audit.record(
                organisation=self.organisation,
                actor=member,
                verb="organisation.create",
                target=self.organisation,
            )
        with self.clock.at(self.clock.after(when, minutes=(5, 40))) as first_login:
            self._second_factor(member, first_login, first=True)
        founder = _Person(member, when)
        self.people.append(founder)
        return founder

    def cells(self, founder: _Person) -> tuple[list[Cell], datetime]:
        """Two or three teams, set up by the founder in the first weeks."""
        made = []
        when = founder.joined
        for codename, specialty in _random.sample(_teams(), _random.randint(2, 3)):
            with self.clock.at(self.clock.after(when, minutes=(60 * 12, 60 * 24 * 10))) as when:
                made.append(
                    do_create_cell(actor=founder.member, codename=codename, specialty=specialty)
                )
        return made, when

    def colleagues(
        self, cells: list[Cell], since: datetime, *, language: str, time_zone: str
    ) -> None:
        """One or two more coordinators and three to five cell members, who
        joined at times spread from the first teams to a few days ago."""
        roles = [Role.COORDINATOR] * _random.randint(1, 2)
        roles += [Role.CELL_MEMBER] * _random.randint(3, 5)
        _random.shuffle(roles)
        span_end = self.now - timedelta(days=3)
        times = sorted(_between(since + timedelta(days=1), span_end) for _role in roles)
        for role, joined in zip(roles, times, strict=True):
            self.invite_and_join(
                role=role,
                joined=joined,
                cell=_random.choice(cells) if role == Role.CELL_MEMBER else None,
                language=language,
                time_zone=time_zone,
            )

    def _invited_at(self, joined: datetime) -> datetime:
        return max(
            joined - timedelta(hours=_random.uniform(2, 48)),
            self.founded + timedelta(minutes=30),
        )

    def invite_and_join(
        self, *, role: str, joined: datetime, cell: Cell | None, language: str, time_zone: str
    ) -> None:
        invited_at = self._invited_at(joined)
        inviter = _random.choice(self.coordinators(invited_at) or self.coordinators(self.now))
        handle, name = _handle_and_name(self.taken)
        with self.clock.at(invited_at):
            invitation, _token = do_invite_member(
                actor=inviter.member, role=role, display_name=name, cell=cell
            )
        member = _member(
            organisation=self.organisation,
            handle=handle,
            role=role,
            language=language,
            time_zone=time_zone,
        )
        with self.clock.at(joined) as when:
            self._accept(invitation, member)
        with self.clock.at(self.clock.after(when, minutes=(10, 60 * 20))) as approved:
            do_approve_member(actor=inviter.member, member=member)
        if role == Role.COORDINATOR:
            with self.clock.at(self.clock.after(approved, minutes=(2, 60 * 24))) as first_login:
                self._second_factor(member, first_login, first=True)
        self.people.append(_Person(member, when))

    def join_decoy(self, cells: list[Cell]) -> None:
        """The decoy's own invitation, acceptance and approval (into one of
        the teams, for a cell member), at the time the member joined their
        real organisation."""
        decoy = self.decoy
        invited_at = self._invited_at(self.joined)
        inviter = _random.choice(self.coordinators(invited_at) or self.coordinators(self.now))
        cell = _random.choice(cells) if decoy.role == Role.CELL_MEMBER else None
        with self.clock.at(invited_at):
            invitation, _token = do_invite_member(
                actor=inviter.member,
                role=decoy.role,
                display_name=self.display_name,
                cell=cell,
            )
        with self.clock.at(self.joined) as when:
            self._accept(invitation, decoy)
            Member.objects.filter(pk=decoy.pk).update(date_joined=when)
        with self.clock.at(self.clock.after(when, minutes=(5, 60 * 6))) as approved:
            # The decoy already holds the coordinators' compartment (it founded
            # the organisation's rows); approval adds its team.
            if cell is not None:
                add_member_to_cell_keys(
                    actor=inviter.member, member=decoy, cell=cell, is_lead=False
                )
            audit.record(
                organisation=self.organisation,
                actor=inviter.member,
                verb="member.approve",
                target=decoy,
            )
        if decoy.role == Role.COORDINATOR:
            with self.clock.at(self.clock.after(approved, minutes=(2, 60))) as first_login:
                self._second_factor(decoy, first_login, first=True)
        self.people.append(_Person(decoy, when))

    def _accept(self, invitation: Invitation, member: Member) -> None:
        invitation.accepted_by = member
        invitation.accepted_at = timezone.now()
        invitation.save(update_fields=["accepted_by", "accepted_at"])
        audit.record(
            organisation=self.organisation,
            actor=member,
            verb="invitation.accept",
            target=invitation,
        )

    def _second_factor(self, member: Member, when: datetime, *, first: bool = False) -> datetime:
        """The code from the authenticator app, a little after ``when`` (at a
        coordinator's first login, the login and the app's set-up first)."""
        if first:
            for verb in ("member.login", "member.second_factor_prepare"):
                audit.record(organisation=self.organisation, actor=member, verb=verb, target=member)
            when = self.clock.also_at(self.clock.after(when, minutes=(0.5, 3)))
        else:
            when = self.clock.also_at(self.clock.after(when, minutes=(0.1, 1)))
        audit.record(
            organisation=self.organisation, actor=member, verb="member.second_factor", target=member
        )
        return when

    # --- the caseload -----------------------------------------------------------------

    def cases(self) -> None:
        """Six to nine cases, opened over the organisation's life by its
        coordinators, each about one person helped."""
        kinds = _kinds()
        first_open = self.founded + timedelta(days=_random.uniform(3, 14))
        times = sorted(
            _between(first_open, self.now - timedelta(days=2))
            for _n in range(_random.randint(6, 9))
        )
        for opened_at in times:
            self.case(_random.choice(kinds), opened_at)

    def case(self, kind: dict[str, str], opened_at: datetime) -> None:
        opener = _random.choice(self.coordinators(opened_at))
        given, family = _random.choice(GIVEN_NAMES), _random.choice(FAMILY_NAMES)
        person = f"{given.capitalize()} {family.capitalize()}"
        decoy_on_case = self.decoy.role == Role.COORDINATOR and self.joined <= opened_at
        with self.clock.at(opened_at) as when:
            case = do_open_case(
                actor=opener.member,
                codename=kind["codename"] % {"name": person},
                needs=kind["needs"],
                consent={
                    "given": True,
                    "scope": _("Contact about classes, parcels and visits"),
                    "recorded_at": when.date().isoformat(),
                    "by": opener.member.handle,
                },
                summary=kind["summary"],
                coordinators=[self.decoy] if decoy_on_case else [],
            )
        coordinators = {opener.member.pk: when}
        if decoy_on_case:
            coordinators[self.decoy.pk] = when
        self.caseload.append((case, when, coordinators))
        with self.clock.at(self.clock.after(when, minutes=(3, 180))) as when:
            do_add_traveller(
                actor=opener.member,
                case=case,
                name=person,
                birth_year=str(_random.randint(1950, 2004)),
                needs=kind["needs"],
            )
        if self.decoy.role == Role.COORDINATOR and not decoy_on_case:
            with self.clock.at(
                self.clock.after(max(when, self.joined), minutes=(30, 60 * 24 * 3))
            ) as added:
                do_add_case_coordinator(actor=opener.member, case=case, member=self.decoy)
            coordinators[self.decoy.pk] = added
        end = self.now - timedelta(hours=6)
        if _random.random() < 0.7:
            with self.clock.at(_between(when, end)) as when:
                do_change_case_status(actor=opener.member, case=case, status=CaseStatus.PLANNING)
        for _n in range(_random.randint(0, 2)):
            with self.clock.at(_between(when, end)) as when:
                do_add_case_note(actor=opener.member, case=case, text=kind["note"])
        if case.status != CaseStatus.INTAKE and _random.random() < 0.3:
            with self.clock.at(_between(when, end)):
                do_change_case_status(actor=opener.member, case=case, status=CaseStatus.CLOSED)

    # --- being used --------------------------------------------------------------------

    def logins(self) -> None:
        """Each member logs in now and then; a coordinator's login passes the
        second factor and reads the cases and the members."""
        for person in self.people:
            days = (self.now - person.joined).total_seconds() / 86_400
            count = min(12, max(1, int(days / _random.uniform(6, 14))))
            for _n in range(count):
                when = _between(person.joined, self.now)
                with self.clock.at(when) as when:
                    self._login(person.member, when)

    def _login(self, member: Member, when: datetime) -> None:
        audit.record(
            organisation=self.organisation, actor=member, verb="member.login", target=member
        )
        if member.role != Role.COORDINATOR:
            return
        when = self._second_factor(member, when)
        cases = [
            case.pk
            for case, _opened, coordinators in self.caseload
            if coordinators.get(member.pk, when) < when
        ]
        if cases:
            when = self.clock.also_at(self.clock.after(when, minutes=(0.2, 4)))
            audit.record_opened(
                organisation=self.organisation,
                actor=member,
                records=[("cases.case", str(pk)) for pk in cases],
                view="cases:list",
                method="GET",
            )
        if _random.random() < 0.4:
            members = [p.member.pk for p in self.people if p.joined < when]
            self.clock.also_at(self.clock.after(when, minutes=(0.2, 10)))
            audit.record_opened(
                organisation=self.organisation,
                actor=member,
                records=[("members.member", str(pk)) for pk in members],
                view="members:list",
                method="GET",
            )
