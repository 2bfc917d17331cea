"""`kumpel node`: flash, deploy, provision, verify, set up, monitor and check a node over USB.

Thin: each command picks the port, opens the board or the fleet and calls the module that does the job;
NodeToolError becomes a red message plus "what to do" and exit status 2, never a traceback.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable
from pathlib import Path

import typer
from rich.console import Console
from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from tools.nodetool import check as check_mod
from tools.nodetool import deploy as deploy_mod
from tools.nodetool.board import Board
from tools.nodetool.errors import NodeToolError
from tools.nodetool.fleetapi import Fleet
from tools.nodetool.ports import candidates, choose_port, list_serial_ports
from tools.nodetool.provision import NodeProfile, label_text
from tools.nodetool.provision import provision as provision_node

app = typer.Typer(no_args_is_help=True, help="Flash, deploy, provision and verify a node over USB.")
console = Console(highlight=False)

PortOpt = typer.Option(
    None, "--port", "-p", envvar="KUMPEL_NODE_PORT", help="Serial port (default: the one found)."
)
FleetOpt = typer.Option(..., "--fleet", envvar="KUMPEL_FLEET_URL", help="Fleet manager base URL.")
TokenOpt = typer.Option(None, "--token", envvar="KUMPEL_TOKEN", help="Technician API token.")
ProfileOpt = typer.Option(
    "00000000", "--profile-id", envvar="KUMPEL_TR005_PROFILE_ID", help="TR005 ProfileID on the QR label."
)
FirmwareOpt = typer.Option(
    None, "--firmware", help="Firmware folder to deploy (default: this checkout's firmware/)."
)
# Identity and profile: the same options on provision and setup, so every hint names options both accept.
DevEuiOpt = typer.Option(
    None, "--dev-eui", help="DevEUI from the modem label (must be the modem's own when it has one)."
)
NewOpt = typer.Option(
    False, "--new", help="A new device: the modem's own DevEUI, or one the fleet generates if it has none."
)
RotateOpt = typer.Option(False, "--rotate-keys", help="Issue a new AppKey even if one exists.")
BoardNameOpt = typer.Option("devkit_rak3172", "--board", help="Board profile (new devices).")
UltrasonicOpt = typer.Option(
    "a02yyuw", "--ultrasonic", help="Ultrasonic sensor kind or 'none' (new devices)."
)
ClimateOpt = typer.Option("shtc3", "--climate", help="Climate sensor kind or 'none' (new devices).")
NameOpt = typer.Option("", "--name", help="Node name (new devices).")
BandOpt = typer.Option(4, "--band", help="RUI3 band (4 = EU868).")


def _sources(firmware: Path | None) -> list[tuple[Path, str]] | None:
    return None if firmware is None else [(firmware, ""), (deploy_mod.PROTOCOLS_DIR, "protocols/")]


def friendly(fn: Callable) -> Callable:
    @functools.wraps(fn)
    def wrapper(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
        try:
            return fn(*args, **kwargs)
        except NodeToolError as exc:
            console.print(f"[bold red]error:[/] {exc}")
            if exc.hint:
                console.print(f"[bold]what to do:[/] {exc.hint}")
            raise typer.Exit(2) from exc

    return wrapper


def _bar() -> Progress:
    return Progress(
        TextColumn("{task.description:<28}"),
        BarColumn(),
        DownloadColumn(),
        TimeRemainingColumn(),
        console=console,
    )


def _deploy_progress(bar: Progress) -> Callable[[str, int, int], None]:
    """The bar's task appears with the first progress report (deploy's first byte, esptool's first
    stage): a step that fails before, e.g. on connect, leaves no empty `0/?` bar behind."""
    task = None

    def update(name: str, done: int, total: int) -> None:
        nonlocal task
        if task is None:
            task = bar.add_task(name[-28:], total=total)
        bar.update(task, description=name[-28:], completed=done, total=total)

    return update


def _print_checks(result) -> None:  # noqa: ANN001
    for c in result.checks:
        mark = "[green]PASS[/]" if c.ok else "[red]FAIL[/]"
        console.print(f"  {mark} {c.name:<16} {c.detail}")


@app.command("ports")
@friendly
def ports() -> None:
    """List USB serial ports with their bridge chip; the one to use is highlighted."""
    found = list_serial_ports()
    usable = candidates(found)
    table = Table("port", "VID:PID", "bridge / board", "serial no.")
    for p in found:
        style = "bold green" if len(usable) == 1 and p in usable else ("yellow" if p in usable else "dim")
        table.add_row(p.device, p.vid_pid, p.bridge or p.description, p.serial_number or "", style=style)
    console.print(table if found else "no serial ports")
    if len(usable) == 1:
        console.print(f"use [bold green]{usable[0].device}[/]")
    elif len(usable) > 1:
        console.print("[yellow]several candidates: pass --port[/]")
    else:
        console.print("[red]no ESP32 USB bridge found: plug the node in with a data cable[/]")


@app.command("flash")
@friendly
def flash_cmd(
    image: Path = typer.Option(
        ..., "--image", exists=False, help="MicroPython firmware .bin for the board's chip."
    ),
    port: str | None = PortOpt,
) -> None:
    """Erase the board and write a MicroPython image at the detected chip's offset."""
    from tools.nodetool.flash import flash

    port = choose_port(port)
    console.print(f"connecting to {port} …")
    with _bar() as bar:
        result = flash(port, image, progress=_deploy_progress(bar))
    console.print(f"[green]flashed[/] {result.image_bytes} bytes at 0x{result.offset:x} on the {result.chip}")


@app.command("deploy")
@friendly
def deploy_cmd(port: str | None = PortOpt, firmware: Path | None = FirmwareOpt) -> None:
    """Compile firmware and protocols for the board's MicroPython and copy what changed."""
    port = choose_port(port)
    with Board.open(port) as board, _bar() as bar:
        result = deploy_mod.deploy(board, progress=_deploy_progress(bar), sources=_sources(firmware))
    _print_deployed(result)


def _print_deployed(result: deploy_mod.DeployResult) -> None:
    console.print(
        f"[green]deployed[/]: {len(result.copied)} copied ({result.bytes_copied} bytes), "
        f"{len(result.unchanged)} unchanged, {len(result.removed)} stale removed in {result.seconds:.1f} s"
    )


@app.command("provision")
@friendly
def provision_cmd(
    fleet: str = FleetOpt,
    token: str | None = TokenOpt,
    port: str | None = PortOpt,
    dev_eui: str | None = DevEuiOpt,
    new: bool = NewOpt,
    rotate_keys: bool = RotateOpt,
    board_name: str = BoardNameOpt,
    ultrasonic: str = UltrasonicOpt,
    climate: str = ClimateOpt,
    name: str = NameOpt,
    band: int = BandOpt,
    profile_id: str = ProfileOpt,
) -> None:
    """Create or fetch the device in the fleet, write its provisioning file, print its QR label."""
    port = choose_port(port)
    profile = NodeProfile(board_name, _none(ultrasonic), _none(climate), name, band)
    with Fleet(fleet, token) as api, Board.open(port) as board:
        result = provision_node(
            board,
            api,
            dev_eui=dev_eui,
            new=new,
            rotate_keys=rotate_keys,
            profile=profile,
            tr005_profile_id=profile_id,
        )
    _print_provisioned(result)


def _none(kind: str) -> str | None:
    return None if kind.lower() in ("", "none") else kind


def _print_provisioned(result, next_step: str = "; run `kumpel node verify` next") -> None:  # noqa: ANN001
    for note in result.notes:
        console.print(f"[yellow]note:[/] {note}")
    console.print(f"[green]{result.action}[/] {result.dev_eui} ({result.provision['board']}){next_step}")
    console.print(label_text(result.label))
    console.print(result.label)


@app.command("verify")
@friendly
def verify_cmd(
    port: str | None = PortOpt,
    fleet: str | None = typer.Option(
        None, "--fleet", envvar="KUMPEL_FLEET_URL", help="Report to this fleet."
    ),
    token: str | None = TokenOpt,
) -> None:
    """Run the node's self-test and the tool's checks; report pass/fail per check, then to the fleet."""
    from tools.nodetool.verify import fleet_state, verify

    port = choose_port(port)
    api = Fleet(fleet, token) if fleet else None
    try:
        with Board.open(port) as board:
            result = verify(board, api)
    finally:
        if api:
            api.close()
    _print_checks(result)
    if result.reported:
        console.print(fleet_state(result))
    if not result.ok:
        console.print("[bold red]verify FAILED[/]")
        raise typer.Exit(1)
    console.print("[bold green]verify passed[/]")


@app.command("setup")
@friendly
def setup_cmd(
    fleet: str = FleetOpt,
    token: str | None = TokenOpt,
    port: str | None = PortOpt,
    image: Path | None = typer.Option(
        None, "--image", help="MicroPython image, flashed if the board lacks one."
    ),
    reflash: bool = typer.Option(False, "--reflash", help="Flash even if MicroPython answers."),
    dev_eui: str | None = DevEuiOpt,
    new: bool = NewOpt,
    rotate_keys: bool = RotateOpt,
    board_name: str = BoardNameOpt,
    ultrasonic: str = UltrasonicOpt,
    climate: str = ClimateOpt,
    name: str = NameOpt,
    band: int = BandOpt,
    firmware: Path | None = FirmwareOpt,
    profile_id: str = ProfileOpt,
) -> None:
    """The whole chain for the daily batch: check the fleet, flash if needed, deploy, provision, verify,
    label. Safe to run again after any failure."""
    from tools.nodetool.setup import StepFailed, setup
    from tools.nodetool.verify import fleet_state

    port = choose_port(port)
    with Fleet(fleet, token) as api, _bar() as bar:
        progress = _deploy_progress(bar)
        try:
            result = setup(
                port,
                api,
                image=image,
                reflash=reflash,
                dev_eui=dev_eui,
                new=new,
                rotate_keys=rotate_keys,
                profile=NodeProfile(board_name, _none(ultrasonic), _none(climate), name, band),
                on_step=lambda s: bar.console.print(f"[bold]> {s}[/]"),
                deploy_progress=progress,
                flash_progress=progress,
                sources=_sources(firmware),
                tr005_profile_id=profile_id,
            )
        except StepFailed as exc:
            if exc.result is not None and exc.result.verified is not None:
                _print_checks(exc.result.verified)
                console.print(fleet_state(exc.result.verified))
            raise
    _print_deployed(result.deployed)
    _print_checks(result.verified)
    console.print(fleet_state(result.verified))
    _print_provisioned(result.provisioned, next_step="")
    steps = ", ".join(f"{k} {v:.1f} s" for k, v in result.timings.items())
    console.print(
        f"[bold green]node {result.provisioned.dev_eui} ready[/] in {result.seconds:.1f} s ({steps})"
    )


@app.command("monitor")
@friendly
def monitor_cmd(
    port: str | None = PortOpt,
    reset: bool = typer.Option(False, "--reset", help="Restart the board first to see its boot log."),
    duration: float | None = typer.Option(None, "--duration", help="Stop after this many seconds."),
) -> None:
    """Live firmware log with the laptop's time in front of every line (Ctrl-C to stop)."""
    from tools.nodetool.monitor import monitor

    styles = {"ERROR": "red", "WARN": "yellow", "WARNING": "yellow", "DEBUG": "dim"}
    port = choose_port(port)
    console.print(f"monitoring {port} (Ctrl-C to stop)")
    started = time.monotonic()
    try:
        n = monitor(
            port,
            lambda text, level: console.print(text, style=styles.get(level or "", None), markup=False),
            reset=reset,
            duration=duration,
        )
    except KeyboardInterrupt:
        n = None
    console.print(f"{'' if n is None else n} lines in {time.monotonic() - started:.0f} s")


@app.command("check")
@friendly
def check_cmd(dev_eui: str, fleet: str = FleetOpt, token: str | None = TokenOpt) -> None:
    """A node's health from the fleet, for the field."""
    with Fleet(fleet, token) as api:
        console.print(check_mod.render(api.health(dev_eui)))
