"""The registry of columns allowed to stay plaintext, each with its reason.

DESIGN.md: plaintext is limited to what the server must act on without a
member present (ids, statuses, deadlines, escalation targets, ledger
amounts) and to key material that is itself ciphertext or public.
Every other column is a ``SealedField``. ``tests/vault/test_plaintext.py``
fails when a column is neither sealed nor listed here, and when a sealed
column holds anything but ciphertext.

Reasons used below:
"""

from __future__ import annotations

ID = "record id or relation (ids only; the graph itself is explicit by design)"
STATUS = "status the server acts on without a member present"
TIME = "timestamp for ordering, retention or deadlines"
DEADLINE = "window the worker derives check-in deadlines from"
KEY = "key material that is public or already ciphertext"
CHAIN = "audit chain: ciphertext, hashes over ciphertext and MACs of those hashes"
AUTH = "login: handle (a pseudonym), password hash, account state"
PREFS = "display preference (language, time zone) with no operational content"
COUNT = "small integer the server checks (capacity, thresholds, positions)"

PLAINTEXT_COLUMNS: dict[str, dict[str, str]] = {
    "vault.Compartment": {
        "id": ID,
        "organisation_id": ID,
        "kind": "which kind of compartment (coordinators, case, leg, handoff)",
        "current_version": KEY,
        "rotation_due": STATUS,
        "created_at": TIME,
    },
    "vault.CompartmentGrant": {
        "id": ID,
        "compartment_id": ID,
        "version": KEY,
        "holder_kind": ID,
        "member_id": ID,
        "parent_id": ID,
        "parent_version": KEY,
        "wrapped_key": KEY,
        "created_at": TIME,
    },
    "vault.PendingGrant": {"id": ID, "compartment_id": ID, "member_id": ID, "created_at": TIME},
    "audit.AuditEvent": {
        "id": ID,
        "organisation_id": ID,
        "seq": CHAIN,
        "at": CHAIN,
        "sealed_entry": CHAIN,
        "prev_hash": CHAIN,
        "entry_hash": CHAIN,
        "entry_mac": CHAIN,
    },
    "audit.AuditHead": {
        "organisation_id": ID,
        "seq": CHAIN,
        "entry_hash": CHAIN,
        "mac": CHAIN,
    },
    "audit.AuditKey": {
        "id": ID,
        "organisation_id": ID,
        "last_seq": CHAIN,
        "public_key": KEY,
        "retired_at": TIME,
    },
    "organisations.Organisation": {
        "id": ID,
        "coordinators_compartment_id": ID,
        "audit_public_key": KEY,
        "recovery_public_key": KEY,
        "recovery_threshold": COUNT,
        "recovery_holders": COUNT,
        "created_at": TIME,
    },
    "members.Member": {
        "id": ID,
        "organisation_id": ID,
        "password": AUTH,
        "last_login": AUTH,
        "handle": AUTH,
        "role": AUTH,
        "status": AUTH,
        "is_active": AUTH,
        "date_joined": TIME,
        "public_key": KEY,
        "sealed_private_key": KEY,
        "kdf_salt": KEY,
        "kdf_opslimit": KEY,
        "kdf_memlimit": KEY,
        "language": PREFS,
        "time_zone": PREFS,
        "session_generation": "counter raised to end every session of the member at once",
        "decoy_of_id": (
            "marks the account a duress password opens: the login must raise the alert "
            "for this member before any key is unlocked"
        ),
    },
    "members.SecondFactorDevice": {
        "id": ID,
        "user_id": ID,
        "name": "a fixed label ('authenticator'), never what the member typed",
        "confirmed": AUTH,
        "throttling_failure_timestamp": AUTH,
        "throttling_failure_count": AUTH,
        "sealed_secret": "ciphertext sealed to the member's public key",
        "decoy_sealed_secret": "ciphertext sealed to the public key of the member's decoy",
        "last_t": "time step of the last code accepted (refuses a code used twice)",
        "created_at": TIME,
    },
    # members.lockout: failed logins per typed handle, never an address or browser.
    "members.LoginThrottle": {
        "id": ID,
        "handle_digest": (
            "keyed digest (HMAC under a key from SECRET_KEY) of a typed handle, "
            "never the handle itself"
        ),
        "failures": COUNT,
        "last_failure_at": TIME,
        "not_before": "time before which the handle's next login attempt is refused",
        "window_started_at": TIME,
        "window_failures": COUNT,
        "attack_noticed_at": STATUS,
        "alerted_at": STATUS,
    },
    "members.Invitation": {
        "id": ID,
        "organisation_id": ID,
        "role": AUTH,
        "cell_id": ID,
        "token_digest": "digest of the one-time token (the token itself is never stored)",
        "created_by_id": ID,
        "created_at": TIME,
        "expires_at": TIME,
        "accepted_by_id": ID,
        "accepted_at": TIME,
        "revoked_at": TIME,
        "refused_handles": COUNT,
    },
    "cells.Cell": {"id": ID, "organisation_id": ID, "status": STATUS, "created_at": TIME},
    "cells.CellMembership": {
        "id": ID,
        "cell_id": ID,
        "member_id": ID,
        "is_lead": "escalation target: the cell's lead is alerted first",
        "joined_at": TIME,
    },
    "contacts.Contact": {"id": ID, "organisation_id": ID, "status": STATUS, "created_at": TIME},
    "cases.Case": {
        "id": ID,
        "organisation_id": ID,
        "compartment_id": ID,
        "status": STATUS,
        "opened_at": TIME,
        "status_changed_at": TIME,
        "closed_at": "retention: purge runs a set time after closure",
    },
    "cases.CaseCoordinator": {"id": ID, "case_id": ID, "member_id": ID, "added_at": TIME},
    "cases.Traveller": {"id": ID, "case_id": ID, "compartment_id": ID, "created_at": TIME},
    "cases.CaseEvent": {
        "id": ID,
        "case_id": ID,
        "compartment_id": ID,
        "kind": "kind of timeline entry (its text is sealed)",
        "actor_id": ID,
        "at": TIME,
    },
    "journeys.Journey": {
        "id": ID,
        "case_id": ID,
        "compartment_id": ID,
        "status": STATUS,
        "created_at": TIME,
    },
    "journeys.Leg": {
        "id": ID,
        "journey_id": ID,
        "position": COUNT,
        "cell_id": ID,
        "contact_id": ID,
        "safe_house_id": ID,
        "compartment_id": ID,
        "status": STATUS,
        "window_start": DEADLINE,
        "window_end": DEADLINE,
        "started_at": DEADLINE,
        "handed_off_at": DEADLINE,
        "released_at": "when the leg was released to its cell: the grants follow it "
        "while nobody is logged in",
    },
    "journeys.Handoff": {
        "id": ID,
        "journey_id": ID,
        "from_leg_id": ID,
        "to_leg_id": ID,
        "position": COUNT,
        "compartment_id": ID,
        "status": STATUS,
        "window_start": DEADLINE,
        "window_end": DEADLINE,
        "done_at": DEADLINE,
    },
    "safehouses.SafeHouse": {
        "id": ID,
        "organisation_id": ID,
        "capacity": COUNT,
        "status": STATUS,
        "created_at": TIME,
    },
    # --- warning system (check-ins, alerts, notifications) ----------------------
    "checkins.CheckinPlan": {
        "id": ID,
        "leg_id": ID,
        "departed_grace": DEADLINE,
        "interval": DEADLINE,
        "interval_grace": DEADLINE,
        "handed_off_grace": DEADLINE,
        "is_custom": "whether the plan follows the transport's defaults (no content)",
        "updated_at": TIME,
    },
    "checkins.Deadline": {
        "id": ID,
        "organisation_id": ID,
        "leg_id": ID,
        "kind": "which expected check-in (departed, in transit, handed off): the worker acts on it",
        "due_at": DEADLINE,
        "alert_at": DEADLINE,
        "state": STATUS,
        "met_at": DEADLINE,
        "created_at": TIME,
    },
    "checkins.Checkin": {
        "id": ID,
        "leg_id": ID,
        "compartment_id": ID,
        "member_id": ID,
        "kind": "check-in, leg started or handed off (its note is sealed)",
        "at": DEADLINE,
    },
    "checkins.MemberPins": {
        "id": ID,
        "member_id": ID,
        "checkin_pin": "Argon2id hash of the check-in PIN (never the PIN)",
        "duress_pin": "Argon2id hash of the duress PIN (never the PIN)",
        "updated_at": TIME,
    },
    "alerts.Alert": {
        "id": ID,
        "organisation_id": ID,
        "leg_id": ID,
        "case_id": ID,
        "compartment_id": ID,
        "kind": "what the worker escalates and where it starts (details are sealed)",
        "severity": STATUS,
        "status": STATUS,
        "deadline_id": "the exactly-once guard: one alert per deadline",
        "raised_by_id": ID,
        "raised_at": TIME,
        "escalation_level": "escalation target the worker moves up the ladder",
        "next_escalation_at": DEADLINE,
        "acknowledged_at": TIME,
        "acknowledged_by_id": ID,
        "resolved_at": TIME,
        "resolved_by_id": ID,
    },
    "alerts.AlertNote": {
        "id": ID,
        "alert_id": ID,
        "compartment_id": ID,
        "author_id": ID,
        "at": TIME,
    },
    "notifications.NotificationAddress": {
        "id": ID,
        "member_id": ID,
        "channel": "which channel (email, webhook) the worker sends on",
        "sealed_target": "ciphertext under the dispatch key (an environment secret)",
        "sealed_secret": "ciphertext under the dispatch key (an environment secret)",
        "created_at": TIME,
    },
    "notifications.InternalWebhookHosts": {
        "id": ID,
        "organisation_id": ID,
        "sealed_hosts": "ciphertext under the dispatch key (an environment secret)",
        "updated_at": TIME,
    },
    "notifications.Notification": {
        "id": ID,
        "organisation_id": ID,
        "member_id": ID,
        "alert_id": ID,
        "level": "escalation level that reached the member",
        "topic": "which fixed sentence the notification shows (it names no record)",
        "created_at": TIME,
        "read_at": STATUS,
    },
    "notifications.Delivery": {
        "id": ID,
        "notification_id": ID,
        "channel": STATUS,
        "status": STATUS,
        "attempts": COUNT,
        "next_attempt_at": DEADLINE,
        "claimed_until": DEADLINE,
        "claim": ID,
        "sent_at": TIME,
        "created_at": TIME,
    },
    "notifications.DeliveryAttempt": {
        "id": ID,
        "delivery_id": ID,
        "attempt": COUNT,
        "at": TIME,
        "ok": STATUS,
        "error": "error class or HTTP status of a failed send (never an address or body)",
        "duration_ms": COUNT,
    },
    # --- API tokens scoped to one cell (bridges) ------------------------------------
    "api.CellToken": {
        "id": ID,
        "organisation_id": ID,
        "cell_id": "the one cell the token reaches: checked on every request",
        "member_id": "the member the token acts as: checked on every request",
        "sealed_label": "ciphertext sealed to the member's own public key",
        "token_digest": "digest of the token (the token itself is never stored)",
        "sealed_private_key": "ciphertext under a key derived from the token, which is not stored",
        "created_at": TIME,
        "expires_at": "the server refuses the token after it, with nobody logged in",
        "last_used_at": TIME,
        "revoked_at": STATUS,
    },
    # --- compromise response --------------------------------------------------------
    "compromise.Compromise": {
        "id": ID,
        "organisation_id": ID,
        "subject_kind": "what kind of thing was compromised (a vehicle's or place's text is sealed)",
        "subject_id": "the member, cell, contact, safe house or handoff the response acts on",
        "reason": "why (arrested, device seized, betrayal, raid): no details, which are sealed",
        "occurred_at": TIME,
        "declared_at": TIME,
        "declared_by_id": ID,
        "status": STATUS,
        "alert_id": ID,
        "responded_at": TIME,
        "responded_by_id": ID,
        "closed_at": TIME,
    },
    "compromise.BurnedMark": {
        "id": ID,
        "organisation_id": ID,
        "kind": "vehicle or place (the text itself is sealed)",
        "compromise_id": ID,
        "marked_at": TIME,
        "marked_by_id": ID,
    },
    # --- traveller links (a traveller with no account) -------------------------------
    "travellers.TravellerLink": {
        "id": ID,
        "case_id": ID,
        "traveller_id": ID,
        "compartment_id": ID,
        "token_digest": "digest of the link's token (the token itself is never stored)",
        "sealed_for_traveller": (
            "ciphertext under a key derived from the link's token, which is not stored; "
            "wiped when the link ends"
        ),
        "binding_digest": "digest of the cookie binding the link to one browser",
        "status": STATUS,
        "issued_by_id": ID,
        "issued_at": TIME,
        "expires_at": "the server refuses the link after it, with nobody logged in",
        "opened_at": TIME,
        "completed_at": TIME,
        "revoked_at": TIME,
        "revoked_by_id": ID,
        "refused_openings": COUNT,
    },
    "travellers.TravellerReport": {
        "id": ID,
        "link_id": ID,
        "kind": (
            "which of three fixed buttons the traveller pressed (no text: the traveller "
            "holds no key to seal one)"
        ),
        "at": TIME,
        "alert_id": ID,
    },
}

# Tables of the libraries safepassage installs (``PLAINTEXT_COLUMNS`` covers
# safepassage's own models). tests/vault/test_plaintext.py checks that every
# column of an installed library's model is declared here and none is stale.
# None of the libraries installed today has a table.
THIRD_PARTY_PLAINTEXT_COLUMNS: dict[str, dict[str, str]] = {}


def allowed(model_label: str, column: str) -> bool:
    return column in PLAINTEXT_COLUMNS.get(model_label, {})
