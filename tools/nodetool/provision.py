"""Provision: give a node its identity (DevEUI, JoinEUI, AppKey), board profile and initial config.

The DevEUI rule, decided here once: the modem's own DevEUI whenever it has one (modem.py); a --dev-eui that
differs from it is refused; the fleet generates one (--new) only for a modem without one, and that one is
written to the modem. The fleet is the source of truth for the keys; the node's `provision.json`
(docs/CONTRACTS.md §3) is a copy.

Re-running after any failure is safe: a node that already holds its keys keeps them (--new included); an
identity the node holds but that never passed verify (a half-run) gives way to the modem's or the given
DevEUI. The fleet shows the AppKey only when it creates or rotates it, so a device whose keys this node
lacks is re-keyed only while it is not provisioned (the fleet's `provisioned_at` is empty: no node passed
verify with those keys) or with --rotate-keys; otherwise the tool refuses, because the keys belong to a
node that passed verify. New keys clear `provisioned_at` in the fleet: the node must pass verify again.
"""

from __future__ import annotations

import io
import re
from dataclasses import dataclass, field

import segno

from protocols import identity, provisioning
from protocols.hardware import BOARDS, CLIMATE, ULTRASONIC  # noqa: F401  (tests check the one home)
from tools.nodetool.board import Board
from tools.nodetool.errors import DevEuiMismatchError, KeysConflictError, NodeToolError, ProvisionFileError
from tools.nodetool.fleetapi import Fleet
from tools.nodetool.modem import ask_dev_eui

PROVISION_FILE = "provision.json"
CONFIG_FILE = "config.json"
_HEX = re.compile(r"^[0-9A-F]+$")


@dataclass
class NodeProfile:
    """What the technician says about the node; used only when the fleet does not know it yet."""

    board: str = "devkit_rak3172"
    ultrasonic: str | None = "a02yyuw"
    climate: str | None = "shtc3"
    name: str = ""
    band: int = 4


@dataclass
class ProvisionResult:
    dev_eui: str
    action: str  # created | rotated | kept
    provision: dict
    label: str  # TR005 QR text
    notes: list[str] = field(default_factory=list)


def norm_eui(value: str, what: str = "DevEUI") -> str:
    try:
        return identity.parse_eui(value, what)
    except ValueError as exc:
        raise NodeToolError(str(exc), "Copy it from the modem's label.") from exc


def modem_identity(answer: str | None) -> str | None:
    """The modem's answer to `AT+DEVEUI=?` as a DevEUI, or None when it has none (empty, all zeros/ones)."""
    if not answer:
        return None
    try:
        eui = norm_eui(answer)
    except NodeToolError:
        return None
    return None if eui in ("0000000000000000", "FFFFFFFFFFFFFFFF") else eui


def problems(doc: dict | None) -> list[str]:
    """What is wrong with a provision.json document (empty list: valid): protocols/provisioning.py's rules,
    the ones the firmware reads the file with."""
    if doc is None:
        return [f"{PROVISION_FILE} is missing"]
    if "__invalid__" in doc:
        return [f"{PROVISION_FILE} is not a JSON object (starts {doc['__invalid__']!r})"]
    return provisioning.problems(doc)


def tr005(device: dict, profile_id: str = "00000000") -> str:
    """LoRa Alliance TR005 QR text; the fleet's own string wins when it sends one. Never the AppKey."""
    return device.get("tr005") or identity.tr005(device["join_eui"], device["dev_eui"], profile_id)


def label_text(label: str) -> str:
    """The QR code as terminal text (compact half-block characters)."""
    buf = io.StringIO()
    segno.make(label, error="m", micro=False).terminal(out=buf, compact=True, border=2)
    return buf.getvalue()


def provision(
    board: Board,
    fleet: Fleet,
    *,
    dev_eui: str | None = None,
    new: bool = False,
    rotate_keys: bool = False,
    profile: NodeProfile | None = None,
    tr005_profile_id: str = "00000000",
) -> ProvisionResult:
    profile = profile or NodeProfile()
    if len(tr005_profile_id) != 8 or not _HEX.match(tr005_profile_id.upper()):
        raise NodeToolError(
            f"TR005 ProfileID {tr005_profile_id!r} is not 8 hex digits",
            "Use the fleet's KUMPEL_TR005_PROFILE_ID (VendorID + profile, e.g. 00A1B2C3).",
        )
    if dev_eui and new:
        raise NodeToolError(
            "give either --dev-eui or --new, not both",
            "Leave out --new: `kumpel node setup --dev-eui <DevEUI>` creates the device when it is new.",
        )
    given = norm_eui(dev_eui) if dev_eui else None
    current = board.read_json(PROVISION_FILE)
    held = current if not problems(current) else None
    held_eui = identity.normalize_eui(held["dev_eui"]) if held else None
    notes = []
    if current is not None and held is None:
        notes.append(
            f"the node's old {PROVISION_FILE} was invalid ({'; '.join(problems(current))}): replaced"
        )

    # The rule (modem.py): the modem's own DevEUI whenever it has one.
    board_name = held["board"] if held else profile.board  # the wiring the node was set up with
    asked = ask_dev_eui(board, board_name)
    modem_eui = modem_identity(asked.dev_eui)
    if given and modem_eui and given != modem_eui:
        raise DevEuiMismatchError(
            f"the modem's own DevEUI is {modem_eui}, not {given}: the node would join under another identity",
            f"Leave out --dev-eui: `kumpel node setup --new` uses the modem's DevEUI {modem_eui}.",
        )
    wanted = given or modem_eui
    if held_eui and wanted and held_eui != wanted:
        held_device = fleet.get_device(held_eui)
        if held_device and held_device.get("provisioned_at") and not rotate_keys:
            raise KeysConflictError(
                f"this node is already provisioned as {held_eui}, not {wanted}"
                + (f" (its modem says {modem_eui})" if modem_eui else ""),
                f"Keep {held_eui}: `kumpel node setup` without --dev-eui and --new. To give the node "
                f"{wanted} instead: `kumpel node setup --dev-eui {wanted} --rotate-keys`.",
            )
        where = (
            "the fleet does not know it"
            if held_device is None
            else (
                "it never passed verify; an admin can delete it from the fleet "
                f"(DELETE /api/v1/devices/{held_eui})"
                if not held_device.get("provisioned_at")
                else "it passed verify before: --rotate-keys given"
            )
        )
        notes.append(f"the node held DevEUI {held_eui} ({where}): now {wanted}")
        held = held_eui = None
    target = wanted or held_eui
    if target is None and not new:
        raise ProvisionFileError(
            f"this node has no identity yet and its modem gave none ({asked.problem or 'no DevEUI'})",
            "Let the fleet generate one: `kumpel node setup --new`; or give the modem label's: "
            "`kumpel node setup --dev-eui <DevEUI>`.",
        )

    device = fleet.get_device(target) if target else None
    if device is None:
        device = fleet.create_device(
            {
                "dev_eui": target,
                "name": profile.name,
                "board": profile.board,
                "ultrasonic": profile.ultrasonic,
                "climate": profile.climate,
            }
        )
        action, app_key = "created", device["app_key"]
    elif held_eui == device["dev_eui"] and not rotate_keys:
        action, app_key = "kept", held["app_key"].upper()
    elif rotate_keys or not device.get("provisioned_at"):
        device = fleet.rotate_key(device["dev_eui"])
        action, app_key = "rotated", device["app_key"]
    else:
        raise KeysConflictError(
            f"device {device['dev_eui']} is already provisioned in the fleet; this node lacks its keys"
        )
    if asked.dev_eui is None:
        notes.append(f"the modem was not asked for its DevEUI: {asked.problem}")
    elif modem_eui is None:  # a modem without a DevEUI of its own gets the fleet's
        written = modem_identity(ask_dev_eui(board, device["board"], write=device["dev_eui"]).dev_eui)
        if written != identity.normalize_eui(device["dev_eui"]):
            raise NodeToolError(
                f"the modem did not take DevEUI {device['dev_eui']} (it answers {written})",
                "Check the modem's wiring and power, then run `kumpel node setup` again (it is safe).",
            )
        notes.append(f"the modem had no DevEUI of its own: it now has {device['dev_eui']}")

    doc = {
        "v": 1,
        "dev_eui": device["dev_eui"],
        "join_eui": device["join_eui"],
        "app_key": app_key,
        "band": profile.band if action != "kept" else held.get("band", profile.band),
        "board": device["board"],
        "ultrasonic": device.get("ultrasonic"),
        "climate": device.get("climate"),
        "name": device.get("name") or "",
    }
    bad = problems(doc)
    if bad:
        raise NodeToolError(
            f"the fleet's record for {doc['dev_eui']} gives an invalid provisioning file: {bad}"
        )
    try:
        if board.read_json(PROVISION_FILE) != doc:
            board.write_json(PROVISION_FILE, doc)
        cfg = initial_config(fleet.config(doc["dev_eui"]))
        if cfg is not None and board.read_json(CONFIG_FILE) is None:
            board.write_json(CONFIG_FILE, cfg)
    except NodeToolError as exc:
        state = "provisioned" if device.get("provisioned_at") else "not provisioned (verify has not passed)"
        raise type(exc)(
            f"{exc} -- the fleet has {doc['dev_eui']} as {state}; re-running provision is safe", exc.hint
        ) from exc
    return ProvisionResult(doc["dev_eui"], action, doc, tr005(device, tr005_profile_id), notes)


def initial_config(view: dict) -> dict | None:
    """The fleet's desired settings as the node's first config.json; None when the fleet wants defaults."""
    desired = view.get("desired") or {}
    if not desired:
        return None
    return {"config_version": int(view.get("desired_version", 0)), "settings": desired}
