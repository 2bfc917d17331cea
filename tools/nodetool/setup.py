"""Setup: the daily-batch chain for one node, fleet check -> flash (if needed) -> deploy -> provision ->
verify -> label.

The fleet is asked first (does it answer, does it take the token), so an unreachable fleet costs no
deploy. Each step runs only when the one before it succeeded; a failure stops the chain and is re-raised
with the step's name, so the technician sees where it stopped and the failing step's own hint says what
to do. Re-running setup after any failure is safe (provision.py keeps or replaces the identity by its
rule). Flashing happens only when the board has no MicroPython (or --reflash), because it erases the board.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from tools.nodetool import deploy as deploy_mod
from tools.nodetool.board import Board
from tools.nodetool.errors import NodeToolError, NoMicroPythonError, SelftestError
from tools.nodetool.flash import flash
from tools.nodetool.fleetapi import Fleet
from tools.nodetool.provision import NodeProfile, ProvisionResult, provision
from tools.nodetool.verify import VerifyResult, verify


@dataclass
class SetupResult:
    port: str
    timings: dict[str, float] = field(default_factory=dict)
    flashed: bool = False
    deployed: deploy_mod.DeployResult | None = None
    provisioned: ProvisionResult | None = None
    verified: VerifyResult | None = None

    @property
    def seconds(self) -> float:
        return sum(self.timings.values())


class StepFailed(NodeToolError):
    """A step of setup failed; `step` names it, message and hint come from the step's own error."""

    def __init__(self, step: str, cause: NodeToolError, result: SetupResult | None = None) -> None:
        super().__init__(f"setup stopped at '{step}': {cause}", cause.hint)
        self.step = step
        self.cause = cause
        self.result = result


def setup(
    port: str,
    fleet: Fleet,
    *,
    image: Path | None = None,
    reflash: bool = False,
    dev_eui: str | None = None,
    new: bool = False,
    rotate_keys: bool = False,
    profile: NodeProfile | None = None,
    on_step: Callable[[str], None] | None = None,
    deploy_progress: Callable[[str, int, int], None] | None = None,
    flash_progress: Callable[[str, int, int], None] | None = None,
    sources: list[tuple[Path, str]] | None = None,
    tr005_profile_id: str = "00000000",
    flash_connect=None,  # noqa: ANN001 - esptool's detect_chip, replaceable at its boundary for tests
) -> SetupResult:
    result = SetupResult(port)

    def step(name: str, fn: Callable[[], object]) -> object:
        if on_step:
            on_step(name)
        started = time.monotonic()
        try:
            return fn()
        except NodeToolError as exc:
            raise StepFailed(name, exc) from exc
        finally:
            result.timings[name] = round(time.monotonic() - started, 3)

    step("fleet", fleet.check)
    board: Board | None = None
    if not reflash:
        try:
            board = Board.open(port)
        except NoMicroPythonError as exc:
            if image is None:
                raise StepFailed("flash", exc) from exc
        except NodeToolError as exc:
            raise StepFailed("connect", exc) from exc
    if board is None:
        if image is None:
            raise StepFailed("flash", NodeToolError("--reflash needs --image FILE"))
        connect = {"connect": flash_connect} if flash_connect else {}
        step("flash", lambda: flash(port, image, progress=flash_progress, **connect))
        result.flashed = True
        board = step("connect", lambda: _open_after_flash(port))
    with board:
        result.deployed = step(
            "deploy", lambda: deploy_mod.deploy(board, progress=deploy_progress, sources=sources)
        )
        result.provisioned = step(
            "provision",
            lambda: provision(
                board,
                fleet,
                dev_eui=dev_eui,
                new=new,
                rotate_keys=rotate_keys,
                profile=profile,
                tr005_profile_id=tr005_profile_id,
            ),
        )
        result.verified = step("verify", lambda: verify(board, fleet))
    if not result.verified.ok:
        failed = ", ".join(f"{c.name} ({c.detail})" for c in result.verified.failed)
        raise StepFailed("verify", SelftestError(f"checks failed: {failed}", _verify_hint(result)), result)
    return result


def _verify_hint(result: SetupResult) -> str | None:
    """A modem that answers another DevEUI than provision.json's is no wiring fault: say what fixes it."""
    for c in result.verified.failed:
        if c.name == "modem" and c.detail.startswith("modem DevEUI"):
            return (
                "The modem answers another DevEUI than the node was given. Run `kumpel node setup` again: "
                "it gives the node the modem's own DevEUI (an identity that never passed verify gives way)."
            )
    return None


def _open_after_flash(port: str, wait_s: float = 8.0) -> Board:
    """MicroPython's first boot formats the filesystem; give it a few seconds to answer."""
    deadline = time.monotonic() + wait_s
    while True:
        try:
            return Board.open(port)
        except NodeToolError:
            if time.monotonic() >= deadline:
                raise
            time.sleep(0.5)
