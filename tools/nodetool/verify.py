"""Verify: run the firmware's self-test on the board, add the tool's own checks, report pass/fail per check.

The firmware knows its sensors and modem (`node.selftest.run()` prints one `SELFTEST {json}` line,
docs/CONTRACTS.md §3); the tool checks what it wrote (the provisioning file) and what it can measure
from outside (free flash and RAM). Every run is reported to the fleet (POST /devices/{eui}/verifications)
with its checks, so the depot's history is complete; the fleet counts the device as provisioned from the
first full pass on (`provisioned_at`), and a later failure is kept as the latest result without undoing it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime

from protocols import units
from tools.nodetool.board import Board
from tools.nodetool.errors import BoardError, NodeToolError
from tools.nodetool.fleetapi import Fleet
from tools.nodetool.provision import PROVISION_FILE, problems

MIN_FLASH_FREE = 32 * 1024  # config and state files plus room to redeploy
MIN_RAM_FREE = 24 * 1024  # after gc with the firmware imported: what a wake cycle needs
# Forget modules imported before a deploy, so the test runs the code now on the board.
SELFTEST_CODE = (
    "import sys, gc\n"
    "for _m in [m for m in sys.modules if m == 'node' or m[:5] == 'node.' or m[:9] == 'protocols']:\n"
    " del sys.modules[_m]\n"
    "gc.collect()\nimport node.selftest\nnode.selftest.run()\n"
)
SELFTEST_TIMEOUT_S = 60.0


@dataclass
class Check:
    name: str
    ok: bool
    detail: str = ""  # English, for the terminal
    code: str = ""  # what the detail says, for the fleet's pages to word it in their reader's language
    params: dict = field(default_factory=dict)


@dataclass
class VerifyResult:
    dev_eui: str | None
    checks: list[Check] = field(default_factory=list)
    reported: bool = False
    log: list[str] = field(default_factory=list)
    micropython: str = ""
    provisioned_at: str | None = None  # the fleet's answer to the report (ISO time; None: not provisioned)

    @property
    def ok(self) -> bool:
        return bool(self.checks) and all(c.ok for c in self.checks)

    @property
    def failed(self) -> list[Check]:
        return [c for c in self.checks if not c.ok]


def parse_selftest(output: str) -> tuple[dict | None, list[str]]:
    """(the SELFTEST document or None, the other lines: the firmware's log during the test)."""
    doc, log = None, []
    for line in output.splitlines():
        if line.startswith("SELFTEST "):
            try:
                doc = json.loads(line[len("SELFTEST ") :])
            except ValueError:
                doc = {
                    "ok": False,
                    "checks": [{"name": "selftest", "ok": False, "detail": "unreadable output"}],
                }
        elif line.strip():
            log.append(line.rstrip())
    return doc, log


def selftest_checks(selftest: dict | None) -> list[Check]:
    """The firmware's checks from its SELFTEST document; a missing or empty one is a failed check itself."""
    if selftest is None:
        return [Check("selftest", False, "the firmware printed no SELFTEST line", "no_selftest_line")]
    found = selftest.get("checks", [])
    checks = [
        Check(
            str(c.get("name")),
            bool(c.get("ok")),
            str(c.get("detail", "")),
            str(c.get("code") or ""),
            c.get("params") if isinstance(c.get("params"), dict) else {},
        )
        for c in found
    ]
    return checks or [Check("selftest", bool(selftest.get("ok")), "no individual checks reported")]


def free_text(n: int) -> str:
    """Bytes free in the largest unit that keeps the number below 1024 (protocols.units)."""
    value, unit = units.binary_size(n)
    return f"{value:.{units.digits(value, unit)}f} {unit} free"


def run_checks(board: Board) -> VerifyResult:
    doc = board.read_json(PROVISION_FILE)
    bad = problems(doc)
    result = VerifyResult(dev_eui=doc.get("dev_eui") if doc and not bad else None)
    if bad:
        result.checks.append(Check("provision_file", False, "; ".join(bad)))
    else:
        detail = f"DevEUI {result.dev_eui}"
        result.checks.append(Check("provision_file", True, detail, "dev_eui", {"dev_eui": result.dev_eui}))
    try:
        output = board.exec(SELFTEST_CODE, timeout=SELFTEST_TIMEOUT_S)
    except BoardError as exc:
        missing = "node.selftest" in str(exc) or "no module named 'node" in str(exc).lower()
        if missing:
            result.checks.append(
                Check("selftest", False, "firmware not on the board: run `kumpel node deploy`", "no_firmware")
            )
        else:
            result.checks.append(Check("selftest", False, str(exc)))
        output = ""
    if output:
        selftest, result.log = parse_selftest(output)
        result.checks.extend(selftest_checks(selftest))
    info = board.info()
    result.micropython = info["version"]
    for name, free, least in (
        ("free_flash", info["flash_free"], MIN_FLASH_FREE),
        ("free_ram", info["mem_free"], MIN_RAM_FREE),
    ):
        result.checks.append(Check(name, free >= least, free_text(free), "free", {"bytes": free}))
    return result


def verify(board: Board, fleet: Fleet | None = None) -> VerifyResult:
    """Run every check; then, with a fleet, report the run (the fleet decides whether it is provisioned)."""
    result = run_checks(board)
    if fleet is None:
        return result
    if result.dev_eui is None:
        raise NodeToolError(
            "cannot report to the fleet: the node has no valid provisioning file",
            "Run `kumpel node provision` first.",
        )
    stored = fleet.report_verification(result.dev_eui, result)
    if stored is None:
        detail = f"the fleet has no device {result.dev_eui}"
        result.checks.append(Check("fleet_record", False, detail, "no_device", {"dev_eui": result.dev_eui}))
        return result
    result.checks.append(
        Check("fleet_record", True, f"run #{stored['id']} stored", "stored", {"id": stored["id"]})
    )
    result.reported = True
    result.provisioned_at = stored.get("provisioned_at")
    return result


def fleet_state(result: VerifyResult) -> str:
    """One line on what the fleet now says about the device, for the terminal."""
    if not result.reported:
        return "not reported to the fleet"
    if result.provisioned_at is None:
        return "reported to the fleet: not provisioned yet (no verify has passed with these keys)"
    since = when(result.provisioned_at)
    if result.ok:
        return f"reported to the fleet: provisioned since {since}"
    return f"reported to the fleet: this failure is recorded; provisioned since {since} (an earlier pass)"


def when(iso: str) -> str:
    """An ISO time from the fleet as 'YYYY-MM-DD HH:MM UTC' (as sent, if it does not parse)."""
    try:
        at = datetime.fromisoformat(iso)
    except ValueError:
        return iso
    return (at if at.tzinfo else at.replace(tzinfo=UTC)).astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")
