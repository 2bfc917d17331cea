"""Adapter between the pages and the fleet manager: settings, sessions, sign-in, and the few write actions
the pages offer. Each action calls fleet.services the way the REST routes do (service call, commit, then
dispatch what is due to the network server), so a button on a phone and a curl call behave the same.
"""

import io
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime

import segno
from fastapi import Request
from sqlmodel import Session, select

from fleet.lns.base import NetworkServer
from fleet.models import (
    Alert,
    ApiToken,
    DesiredConfig,
    Device,
    Event,
    Group,
    MaintenanceNote,
    Rollout,
    UserAccount,
    utcnow,
)
from fleet.security import hash_token
from fleet.services import accounts, downlinks, health, labels, provisioning, tokens, wire
from fleet.services import alerts as alerts_service
from fleet.services import config as config_service
from fleet.services import rollout as rollout_service
from fleet.settings import Settings
from fleet.web.session import ROLES, Principal
from protocols import identity


def settings(request: Request) -> Settings:
    return request.app.state.settings


def secret_key(request: Request) -> str:
    return settings(request).secret_key


def network_server(request: Request) -> NetworkServer:
    return request.app.state.adapter


@contextmanager
def session(request: Request) -> Iterator[Session]:
    with Session(request.app.state.engine) as db:
        yield db


# --- who is signed in ----------------------------------------------------------------------------------
def _live_token(db: Session, token: ApiToken | None) -> bool:
    """Neither revoked nor expired (an expired token ends the web session too)."""
    return tokens.refusal(token) is None and token.role in ROLES


def sign_in_token(request: Request, raw_token: str) -> Principal | None:
    """The principal for an API token typed on the sign-in page (stored hashed, as the API checks it)."""
    raw_token = raw_token.strip()
    if not raw_token:
        return None
    with session(request) as db:
        token = db.exec(select(ApiToken).where(ApiToken.token_hash == hash_token(raw_token))).first()
        if not _live_token(db, token):
            return None
        token.last_used_at = utcnow()
        db.add(token)
        db.commit()
        return Principal("token", str(token.id), token.name, token.role)


def still_valid(request: Request, principal: Principal) -> Principal | None:
    """Re-check a session's principal: a revoked token or a changed role ends the web session."""
    if principal.kind == "user":
        return account_still_valid(request, principal)
    if principal.kind != "token" or not principal.ident.isdigit():
        return None
    with session(request) as db:
        token = db.get(ApiToken, int(principal.ident))
        if not _live_token(db, token) or token.role != principal.role:
            return None
    return principal


# --- people with accounts (fleet.services.accounts) ------------------------------------------------------
def account_principal(account: UserAccount) -> Principal:
    """The session of a signed-in account: its id and session epoch (raised to end every session)."""
    return Principal("user", f"{account.id}:{account.session_epoch}", account.display_name, account.role)


def account_still_valid(request: Request, principal: Principal) -> Principal | None:
    """A session of a disabled account, or one from before a new password or role, no longer counts."""
    user_id, _, epoch = principal.ident.partition(":")
    if not user_id.isdigit() or not epoch.isdigit():
        return None
    with session(request) as db:
        if accounts.usable(db, int(user_id), int(epoch), principal.role) is None:
            return None
    return principal


def account_of(db: Session, principal: Principal) -> UserAccount | None:
    """The account a page's user signed in with (None for a token session)."""
    if principal.kind != "user":
        return None
    user_id = principal.ident.partition(":")[0]
    return db.get(UserAccount, int(user_id)) if user_id.isdigit() else None


def signin_link_url(request: Request, raw: str) -> str:
    """Where a phone goes when it scans the sign-in QR (the fleet's public address, as node labels)."""
    return settings(request).public_url.rstrip("/") + f"/signin/link/{raw}"


def qr_svg_for(text: str) -> str:
    """Any short text as an inline SVG QR code: a viewBox only (the page sizes it), the 4-module quiet
    zone ISO/IEC 18004 asks for, black on white whatever the page's colours."""
    buf = io.BytesIO()
    segno.make(text, error="m", micro=False).save(
        buf, kind="svg", border=4, xmldecl=False, svgns=True, omitsize=True, dark="#000", light="#fff"
    )
    return buf.getvalue().decode()


# --- reading -------------------------------------------------------------------------------------------
def effective_status(now: datetime):  # noqa: ANN201 (an SQL expression)
    """The health service's "state now" as SQL (cached verdict + connectivity at `now`): one rule, theirs."""
    return health.effective_status(now)


def full_threshold_pct() -> int:
    """The default bin-full threshold (the wire contract's settings table is the one source)."""
    return int(wire.defaults()["full_threshold_pct"])


def qr_svg(device: Device, cfg: Settings) -> str:
    """The bin URL's QR as compact inline SVG (the sheet prints name and street as text beside it)."""
    return qr_svg_for(labels.bin_url(device, cfg))


def tr005_svg(device: Device, cfg: Settings) -> str:
    """The smaller second code: the TR005 string for network-server claiming apps."""
    return qr_svg_for(labels.tr005(device, cfg))


# --- acting --------------------------------------------------------------------------------------------
def _dispatch(request: Request, db: Session, device: Device | None) -> None:
    """Hand what is due to the network server now, as the API routes do (the sweep retries later)."""
    downlinks.dispatch(
        db, network_server(request), settings(request), device_id=device.id if device else None
    )
    db.commit()


def add_maintenance_note(db: Session, device: Device, author: str, text: str) -> None:
    """Store a crew member's note (the fleet has the table, no service: a plain insert is all it takes)."""
    db.add(MaintenanceNote(device_id=device.id, author=author[:80], text=text))
    db.commit()


def queue_command(request: Request, db: Session, device: Device, command: str, author: str) -> None:
    downlinks.queue_command(db, device, command, settings(request))
    db.add(Event(device_id=device.id, kind="web_action", message=f"{author}: command {command}"))
    db.commit()
    _dispatch(request, db, device)


def resend_config(request: Request, db: Session, device: Device, author: str) -> int | None:
    """Queue the pending config again now; its version, or None when the node already runs what is desired."""
    downlink = config_service.reconcile(db, device, settings(request))
    if downlink is None:
        db.commit()
        return None
    downlink.next_attempt_at = utcnow()  # an already queued one goes out now, not after its backoff
    db.add(downlink)
    db.add(
        Event(
            device_id=device.id,
            kind="web_action",
            message=f"{author}: resend config v{downlink.config_version}",
        )
    )
    db.commit()
    version = downlink.config_version
    _dispatch(request, db, device)
    return version


class ConfigError(ValueError):
    """Settings the fleet refused (from fleet.services.config), worded for the form."""


def config_target(db: Session, dev_eui: str = "", group: str = "") -> dict | None:
    """What the config form edits: a node's own overrides, or a group's config, with desired and applied."""
    if dev_eui:
        device = db.exec(select(Device).where(Device.dev_eui == identity.normalize_eui(dev_eui))).first()
        if device is None:
            return None
        row = db.exec(select(DesiredConfig).where(DesiredConfig.device_id == device.id)).first()
        overrides = dict(row.overrides or {}) if row else {}
        return {
            "kind": "node",
            "name": device.name or device.dev_eui,
            "name_key": device.dev_eui,
            "device": device,
            "current": overrides,
            "desired": config_service.effective_desired(db, device, overrides),
            "applied": config_service.applied_settings(db, device),
        }
    if group:
        found = db.exec(select(Group).where(Group.name == group)).first()
        if found is None:
            return None
        return {
            "kind": "group",
            "name": found.name,
            "name_key": found.name,
            "group": found,
            "current": dict(found.config or {}),
            "desired": dict(found.config or {}),
            "applied": {},
        }
    return None


def save_config(request: Request, db: Session, target: dict, values: dict, author: str) -> int | None:
    """Store a node's overrides or a group's config and queue what is now pending (as PUT .../config does).
    Returns the node's new desired version (None for a group: each member gets its own)."""
    cfg = settings(request)
    try:
        if target["kind"] == "node":
            device = target["device"]
            config_service.set_overrides(db, device, values, replace=True)
            db.flush()
            config_service.reconcile(db, device, cfg)
            db.add(Event(device_id=device.id, kind="web_action", message=f"{author}: config {values}"))
            db.commit()
            version = db.exec(select(DesiredConfig).where(DesiredConfig.device_id == device.id)).one().version
            _dispatch(request, db, device)
            return version
        group = target["group"]
        group.config = config_service.validate(values)
        db.add(group)
        db.flush()
        for device in provisioning.members(db, group):
            config_service.reconcile(db, device, cfg)
        db.add(Event(kind="web_action", message=f"{author}: group {group.name} config {values}"))
        db.commit()
        _dispatch(request, db, None)
        return None
    except config_service.ConfigError as exc:
        db.rollback()
        raise ConfigError(str(exc)) from exc


class ActionRefused(ValueError):
    """The fleet refused an action (e.g. resuming a rollout that is not halted); the message says why."""


class RolloutRefused(ActionRefused):
    """The fleet refused to start or change a rollout. `code` and `params` name the problem for the page's
    wording (the rollout service's codes, plus "no_group" and "settings" for refused setting values)."""

    def __init__(self, message: str, code: str, **params: object):
        super().__init__(message)
        self.code = code
        self.params = params


def _refused(exc: rollout_service.RolloutError | config_service.ConfigError) -> RolloutRefused:
    if isinstance(exc, config_service.ConfigError):
        return RolloutRefused(str(exc), "settings", problems=exc.problems)
    return RolloutRefused(str(exc), exc.code, **exc.params)


def start_rollout(
    request: Request,
    db: Session,
    group_name: str,
    values: dict,
    *,
    batch_size: int,
    failure_threshold_pct: int,
    author: str,
) -> int:
    """Start a staged rollout of `values` to a group, as POST /api/v1/rollouts does: the rollout service
    checks everything and writes nothing when it refuses; on success the first batch is dispatched.
    Returns the new rollout's id."""
    group = db.exec(select(Group).where(Group.name == group_name)).first()
    if group is None:
        raise RolloutRefused(f"no group {group_name!r}", "no_group", group=group_name)
    try:
        ro = rollout_service.create(
            db,
            group,
            values,
            settings(request),
            batch_size=batch_size,
            failure_threshold_pct=failure_threshold_pct,
        )
    except (rollout_service.RolloutError, config_service.ConfigError) as exc:
        db.rollback()
        raise _refused(exc) from exc
    db.add(Event(kind="web_action", message=f"{author}: rollout {ro.id} to group {group.name} {values}"))
    db.commit()
    rollout_id = ro.id
    _dispatch(request, db, None)
    return rollout_id


def rollout_action(request: Request, db: Session, rollout_id: int, action: str) -> None:
    """Resume a halted rollout or abort one, as POST /api/v1/rollouts/{id}/resume|abort do."""
    ro = db.get(Rollout, rollout_id)
    if ro is None:
        raise RolloutRefused(f"no rollout {rollout_id}", "no_rollout", id=rollout_id)
    try:
        if action == "resume":
            rollout_service.resume(db, ro, settings(request))
        else:
            rollout_service.abort(db, ro)
    except rollout_service.RolloutError as exc:
        db.rollback()
        raise _refused(exc) from exc
    db.commit()
    if action == "resume":
        _dispatch(request, db, None)


def acknowledge_alert(db: Session, alert_id: int, who: str) -> Device:
    """Mark an open alert as seen by someone (it stays open until the condition clears)."""
    alert = db.get(Alert, alert_id)
    if alert is None or alert.closed_at is not None:
        raise ActionRefused(f"no open alert {alert_id}")
    alerts_service.acknowledge(db, alert, who, utcnow())
    db.commit()
    return db.get(Device, alert.device_id)
