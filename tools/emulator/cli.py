"""`kumpel emu`: run the real firmware on simulated hardware against a simulated ChirpStack."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

from tools.emulator.board_cli import board
from tools.emulator.local_fleet import provision_via_api
from tools.emulator.runner import Emulation, EmulatorError
from tools.emulator.scenario import ScenarioError, load

app = typer.Typer(no_args_is_help=True, help="Run the real firmware on simulated hardware.")
app.command("board")(board)
console = Console() if sys.stdout.isatty() else Console(width=160)  # logs and pipes: no truncated table


@app.command("run")
def run(
    scenario: str = typer.Option(
        ...,
        "--scenario",
        "-s",
        help="Scenario TOML file, or a shipped name: district, dead_zone, fire, fault_storm.",
    ),
    nodes: int | None = typer.Option(None, "--nodes", "-n", help="Scale to N nodes (groups repeat)."),
    days: float | None = typer.Option(None, "--days", "-d", help="Simulated days (default: the scenario's)."),
    fleet: str | None = typer.Option(
        None, "--fleet", help="Fleet manager base URL to post ChirpStack events to."
    ),
    fleet_token: str | None = typer.Option(
        None,
        envvar="KUMPEL_FLEET_TOKEN",
        help="Admin/technician API token: provision the scenario's nodes in the fleet before they boot.",
    ),
    ingest_token: str | None = typer.Option(
        None, envvar="KUMPEL_INGEST_TOKEN", help="Bearer token for the fleet."
    ),
    api_token: str | None = typer.Option(
        None, envvar="KUMPEL_CHIRPSTACK_API_TOKEN", help="Token the simulated gRPC API demands (none: open)."
    ),
    grpc_port: int = typer.Option(0, help="Port of the simulated ChirpStack gRPC API on 127.0.0.1 (0: any)."),
    speed: float | None = typer.Option(
        None, "--speed", help="Pace: simulated seconds per wall second (none: flat out)."
    ),
    workdir: Path | None = typer.Option(None, help="Keep node flash folders and logs here."),
    reference: bool = typer.Option(
        False, "--reference", help="One MicroPython process per node (the reference runner; slower)."
    ),
    workers: int | None = typer.Option(
        None, "--workers", help="Fast runner: worker processes (default: cores, or one per 20 nodes)."
    ),
    json_out: Path | None = typer.Option(None, "--json", help="Also write the summary as JSON here."),
) -> None:
    """Run a scenario and print progress and a summary (uplinks, bytes, airtime, joins, alarms, battery)."""
    try:
        sc = load(scenario)
        if nodes is not None:
            sc = sc.with_nodes(nodes)
        emu = Emulation(
            sc,
            days=days,
            fleet_url=fleet,
            ingest_token=ingest_token,
            api_token=api_token,
            speed=speed,
            workdir=workdir,
            grpc_port=grpc_port,
            reference=reference,
            workers=workers,
        )
    except (ScenarioError, EmulatorError) as e:
        console.print(f"[red]error:[/red] {e}")
        raise typer.Exit(2) from e
    console.print(
        f"scenario [bold]{sc.name}[/bold]: {len(sc.nodes)} nodes, {emu.days:g} simulated days; "
        f"ChirpStack gRPC API on {emu.grpc.target}"
        + (f"; events to {fleet}" if fleet else "")
        + ("; reference runner (a process per node)" if reference else "")
    )
    try:
        emu.start_services()
        if fleet and fleet_token:
            provision_via_api(fleet, fleet_token, sc.nodes)
        emu.start_nodes()
    except (EmulatorError, RuntimeError) as e:
        console.print(f"[red]error:[/red] {e}")
        emu.stop()
        raise typer.Exit(2) from e
    last = [0.0]

    def progress(e: Emulation) -> None:
        if time.monotonic() - last[0] < 2 and e.running():
            return
        last[0] = time.monotonic()
        s = e.summary()
        console.print(
            f"  day {s['simulated_days']:7.2f}  nodes running {e.running():4d}  wake cycles "
            f"{s['wake_cycles']:7d}  uplinks {s['uplinks']:6d}  joins {s['joins']:4d}"
        )

    try:
        emu.wait(on_progress=progress)
    except KeyboardInterrupt:
        console.print("interrupted: stopping the nodes")
    finally:
        emu.stop()
    summary = emu.summary()
    print_summary(summary)
    if json_out:
        json_out.write_text(json.dumps(summary, indent=2))
    emu.cleanup() if workdir is None else None


def print_summary(s: dict) -> None:
    table = Table(
        title=f"{s['scenario']}: {s['nodes']} nodes, {s['simulated_days']} days simulated in {s['wall_s']} s "
        f"({s['wake_cycles_per_s']} wake cycles/s)"
    )
    for col in (
        "node",
        "boots",
        "joins",
        "uplinks",
        "heard",
        "bytes",
        "airtime s/day",
        "downlinks",
        "alarms",
        "faults seen",
        "battery %",
    ):
        table.add_column(col, justify="left" if col in ("node", "alarms", "faults seen") else "right")
    for n in s["per_node"]:
        table.add_row(
            n["name"],
            str(n["boots"]),
            f"{n['joins']}/{n['join_attempts']}",
            str(n["uplinks"]),
            str(n["uplinks_heard"]),
            str(n["bytes"]),
            f"{n['airtime_s_per_day']:.1f}",
            str(n["downlinks"]),
            ", ".join(f"{k}×{v}" for k, v in n["alarms"].items()) or "-",
            ", ".join(sorted(n["faults_seen"])) or "-",
            f"{n['battery_pct']:.1f}",
        )
    console.print(table)
    console.print(
        f"total: uplinks {s['uplinks']}, bytes {s['bytes']}, joins {s['joins']}, downlinks {s['downlinks']}"
    )
    if "fleet" in s:
        f = s["fleet"]
        console.print(
            f"fleet: {f['posted']} events posted, {f['failed']} failed"
            + (f" (last: {f['last_error']})" if f["last_error"] else "")
        )
    for err in s["link_errors"]:
        console.print(f"[yellow]radio link:[/yellow] {err}")
