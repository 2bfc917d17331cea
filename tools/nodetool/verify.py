"""Verify: run the firmware's self-test on the board, add the tool's own checks, report pass/fail per check.

The firmware knows its sensors and modem (`node.selftest.run()` prints one `SELFTEST {json}` line,
docs/CONTRACTS.md §3); the tool checks what it wrote (the provisioning file) and what it can measure
from outside (free flash and RAM). Only a full pass moves the fleet device from `provisioning` to
`provisioned`; every run leaves a maintenance note in the fleet so the depot's history is complete.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

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
    detail: str = ""


@dataclass
class VerifyResult:
    dev_eui: str | None
    checks: list[Check] = field(default_factory=list)
    reported: bool = False
    log: list[str] = field(default_factory=list)
    micropython: str = ""

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


def _kb(n: int) -> str:
    return f"{n // 1024} KB free" if n < 10 * 1024 * 1024 else f"{n // (1024 * 1024)} MB free"


def run_checks(board: Board) -> VerifyResult:
    doc = board.read_json(PROVISION_FILE)
    bad = problems(doc)
    result = VerifyResult(dev_eui=doc.get("dev_eui") if doc and not bad else None)
    result.checks.append(Check("provision_file", not bad, "; ".join(bad) or f"DevEUI {result.dev_eui}"))
    try:
        output = board.exec(SELFTEST_CODE, timeout=SELFTEST_TIMEOUT_S)
    except BoardError as exc:
        missing = "node.selftest" in str(exc) or "no module named 'node" in str(exc).lower()
        detail = "firmware not on the board: run `kumpel node deploy`" if missing else str(exc)
        result.checks.append(Check("selftest", False, detail))
        output = ""
    selftest, result.log = parse_selftest(output)
    if output and selftest is None:
        result.checks.append(Check("selftest", False, "the firmware printed no SELFTEST line"))
    for c in (selftest or {}).get("checks", []):
        result.checks.append(Check(str(c.get("name")), bool(c.get("ok")), str(c.get("detail", ""))))
    if selftest is not None and not selftest.get("checks"):
        result.checks.append(Check("selftest", bool(selftest.get("ok")), "no individual checks reported"))
    info = board.info()
    result.micropython = info["version"]
    result.checks.append(Check("free_flash", info["flash_free"] >= MIN_FLASH_FREE, _kb(info["flash_free"])))
    result.checks.append(
        Check("free_ram", info["mem_free"] >= MIN_RAM_FREE, f"{info['mem_free'] // 1024} KB free")
    )
    return result


def verify(board: Board, fleet: Fleet | None = None) -> VerifyResult:
    """Run every check; then, with a fleet, mark the device (provisioned only on a full pass) and note it."""
    result = run_checks(board)
    if fleet is None:
        return result
    if result.dev_eui is None:
        raise NodeToolError(
            "cannot report to the fleet: the node has no valid provisioning file",
            "Run `kumpel node provision` first.",
        )
    device = fleet.get_device(result.dev_eui)
    if device is None:
        result.checks.append(Check("fleet_record", False, f"the fleet has no device {result.dev_eui}"))
        return result
    result.checks.append(Check("fleet_record", True, device.get("name") or result.dev_eui))
    fleet.mark(device, verified=result.ok)
    lines = [f"{'ok  ' if c.ok else 'FAIL'} {c.name}: {c.detail}" for c in result.checks]
    verdict = "passed" if result.ok else f"FAILED ({', '.join(c.name for c in result.failed)})"
    head = f"kumpel node verify {verdict} (MicroPython {result.micropython})"
    fleet.add_note(result.dev_eui, head + "\n" + "\n".join(lines))
    result.reported = True
    return result
