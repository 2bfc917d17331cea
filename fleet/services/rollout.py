"""Staged config rollouts to a group, as hawkBit does: batches, a failure threshold that halts, resume/abort.

A node succeeds when its config report for the rollout's version accepts every key; it fails when it
rejects a key or its downlink fails or expires. A batch is judged when all its nodes are decided: more
failures than the threshold halts the rollout before the next batch goes out.
"""

from datetime import datetime

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from fleet.models import Device, Downlink, Event, Group, GroupMember, Rollout, RolloutNode, utcnow
from fleet.services import config as config_service
from fleet.settings import Settings

DECIDED = ("succeeded", "failed", "skipped")


class RolloutError(ValueError):
    """Why a rollout cannot start or change. `code` and `params` name the problem so a page can word it in
    the reader's language; str() stays the English sentence the API and the CLI show."""

    def __init__(self, message: str, code: str = "refused", **params: object):
        super().__init__(message)
        self.code = code
        self.params = params


UNFINISHED = ("running", "halted")  # a halted rollout may still resume: it holds its group too


def unfinished_for(session: Session, group: Group) -> Rollout | None:
    """The group's rollout that is still running or halted, if any (one at a time per group)."""
    return session.exec(
        select(Rollout).where(Rollout.group_id == group.id, col(Rollout.state).in_(UNFINISHED)).limit(1)
    ).first()


def create(
    session: Session,
    group: Group,
    settings: dict,
    cfg: Settings,
    *,
    batch_size: int,
    failure_threshold_pct: int,
) -> Rollout:
    """Start a rollout: validate everything first, then write; a refusal raises before anything is added.
    Two rollouts at once would fight over the same nodes' overrides, so a group with an unfinished one
    is refused (its row is locked on PostgreSQL so two concurrent starts cannot both pass the check)."""
    clean = config_service.validate(settings)
    if not clean:
        raise RolloutError("a rollout needs at least one setting", "no_settings")
    if batch_size < 1:
        raise RolloutError(f"batch_size must be >= 1, not {batch_size}", "batch_size", value=batch_size)
    if not 0 <= failure_threshold_pct <= 100:
        raise RolloutError(
            f"failure_threshold_pct must be 0..100, not {failure_threshold_pct}",
            "failure_threshold",
            value=failure_threshold_pct,
        )
    session.exec(select(Group.id).where(Group.id == group.id).with_for_update()).first()
    busy = unfinished_for(session, group)
    if busy is not None:
        raise _group_busy(group, busy)
    members = session.exec(
        select(GroupMember.device_id)
        .where(GroupMember.group_id == group.id)
        .order_by(col(GroupMember.device_id))
    ).all()
    if not members:
        raise RolloutError(f"group {group.name!r} has no members", "no_members", group=group.name)
    ro = Rollout(
        group_id=group.id, settings=clean, batch_size=batch_size, failure_threshold_pct=failure_threshold_pct
    )
    session.add(ro)
    try:
        session.flush()
    except IntegrityError:
        # SQLite has no row lock: a concurrent start passed the check too, and the partial unique index
        # (migration 0003) stopped this one. Nothing of ours is written yet, so roll back and refuse.
        session.rollback()
        busy = unfinished_for(session, group)
        if busy is None:
            raise
        raise _group_busy(group, busy) from None
    for i, device_id in enumerate(members):
        session.add(RolloutNode(rollout_id=ro.id, device_id=device_id, batch_no=i // batch_size))
    session.flush()
    _start_batch(session, ro, 0, cfg)
    return ro


def _group_busy(group: Group, busy: Rollout) -> RolloutError:
    return RolloutError(
        f"group {group.name!r} already has rollout {busy.id} ({busy.state}): resume or abort it first",
        "group_busy",
        group=group.name,
        id=busy.id,
        state=busy.state,
    )


def _start_batch(session: Session, ro: Rollout, batch_no: int, cfg: Settings) -> None:
    now = utcnow()
    ro.current_batch = batch_no
    ro.updated_at = now
    session.add(ro)
    nodes = session.exec(
        select(RolloutNode).where(RolloutNode.rollout_id == ro.id, RolloutNode.batch_no == batch_no)
    ).all()
    for node in nodes:
        device = session.get(Device, node.device_id)
        config_service.set_overrides(session, device, ro.settings)
        session.flush()
        dl = config_service.reconcile(session, device, cfg, now=now, rollout_id=ro.id)
        if dl is None:
            node.state, node.detail = "succeeded", "already applied"
        else:
            node.state, node.config_version = "in_progress", dl.config_version
        session.add(node)
    session.flush()
    advance(session, ro, cfg)


def on_downlink_outcome(session: Session, dl: Downlink, cfg: Settings) -> None:
    """Called when a rollout's downlink is answered (config report): judge the node, advance the rollout."""
    node = session.exec(
        select(RolloutNode).where(
            RolloutNode.rollout_id == dl.rollout_id, RolloutNode.device_id == dl.device_id
        )
    ).first()
    if node is None or node.state != "in_progress":
        return
    if dl.state == "done" and not dl.last_error:
        node.state, node.detail = "succeeded", None
    else:
        node.state, node.detail = "failed", dl.last_error or dl.state
    session.add(node)
    session.flush()
    ro = session.get(Rollout, dl.rollout_id)
    if ro is not None:
        advance(session, ro, cfg)


def advance(session: Session, ro: Rollout, cfg: Settings) -> Rollout:
    """Judge the current batch when it is decided; go on, halt or complete."""
    if ro.state != "running":
        return ro
    batch = session.exec(
        select(RolloutNode).where(RolloutNode.rollout_id == ro.id, RolloutNode.batch_no == ro.current_batch)
    ).all()
    if any(n.state not in DECIDED for n in batch):
        return ro
    failed = sum(1 for n in batch if n.state == "failed")
    pct = 100.0 * failed / len(batch) if batch else 0.0
    if failed and pct > ro.failure_threshold_pct:
        ro.state = "halted"
        ro.halt_reason = (
            f"batch {ro.current_batch + 1}: {failed} of {len(batch)} nodes failed ({pct:.0f} % > "
            f"{ro.failure_threshold_pct} %)"
        )
        session.add(ro)
        session.add(Event(kind="rollout_halted", message=f"rollout {ro.id}: {ro.halt_reason}"))
        return ro
    more = session.exec(
        select(RolloutNode.batch_no)
        .where(RolloutNode.rollout_id == ro.id, RolloutNode.batch_no > ro.current_batch)
        .order_by(col(RolloutNode.batch_no))
        .limit(1)
    ).first()
    if more is None:
        ro.state = "completed"
        group = session.get(Group, ro.group_id)
        group.config = {**(group.config or {}), **ro.settings}  # new members get it too
        session.add(group)
        session.add(ro)
        return ro
    _start_batch(session, ro, more, cfg)
    return ro


def sweep(session: Session, cfg: Settings, now: datetime) -> None:
    """Fail nodes whose downlink gave up, then advance every running rollout."""
    for node, dl in session.exec(
        select(RolloutNode, Downlink)
        .join(
            Downlink,
            (Downlink.rollout_id == RolloutNode.rollout_id)
            & (Downlink.device_id == RolloutNode.device_id)
            & (Downlink.config_version == RolloutNode.config_version),
        )
        .where(
            RolloutNode.state == "in_progress", col(Downlink.state).in_(("failed", "expired", "superseded"))
        )
    ).all():
        node.state, node.detail = "failed", dl.last_error or dl.state
        session.add(node)
    for ro in session.exec(select(Rollout).where(Rollout.state == "running")).all():
        advance(session, ro, cfg)


def resume(session: Session, ro: Rollout, cfg: Settings) -> Rollout:
    if ro.state != "halted":
        raise RolloutError(
            f"rollout {ro.id} is {ro.state}, only a halted rollout can resume", "not_halted", id=ro.id
        )
    ro.state, ro.halt_reason = "running", None
    more = session.exec(
        select(RolloutNode.batch_no)
        .where(RolloutNode.rollout_id == ro.id, RolloutNode.batch_no > ro.current_batch)
        .order_by(col(RolloutNode.batch_no))
        .limit(1)
    ).first()
    if more is None:
        return advance(session, ro, cfg)
    _start_batch(session, ro, more, cfg)
    return ro


def abort(session: Session, ro: Rollout) -> Rollout:
    if ro.state in ("completed", "aborted"):
        raise RolloutError(f"rollout {ro.id} is already {ro.state}", "finished", id=ro.id)
    ro.state = "aborted"
    ro.updated_at = utcnow()
    for node in session.exec(
        select(RolloutNode).where(RolloutNode.rollout_id == ro.id, RolloutNode.state == "pending")
    ).all():
        node.state = "skipped"
        session.add(node)
    session.add(ro)
    return ro


def status(session: Session, ro: Rollout) -> dict:
    nodes = session.exec(
        select(RolloutNode, Device.dev_eui)
        .join(Device, col(Device.id) == RolloutNode.device_id)
        .where(RolloutNode.rollout_id == ro.id)
        .order_by(col(RolloutNode.batch_no), col(RolloutNode.id))
    ).all()
    counts: dict[str, int] = {}
    for n, _ in nodes:
        counts[n.state] = counts.get(n.state, 0) + 1
    group = session.get(Group, ro.group_id)
    return {
        "id": ro.id,
        "group": group.name if group else None,
        "settings": ro.settings,
        "state": ro.state,
        "batch_size": ro.batch_size,
        "failure_threshold_pct": ro.failure_threshold_pct,
        "current_batch": ro.current_batch,
        "halt_reason": ro.halt_reason,
        "counts": counts,
        "nodes": [
            {
                "dev_eui": eui,
                "batch": n.batch_no,
                "state": n.state,
                "config_version": n.config_version,
                "detail": n.detail,
            }
            for n, eui in nodes
        ],
    }
