"""`kumpel demo` / `make demo`: the fleet manager on SQLite plus an emulated Bochum district, until Ctrl-C.

Everything runs on this machine and talks over loopback only: the fleet manager (uvicorn, SQLite in
./var/demo, development mode), the simulated ChirpStack (gRPC API + HTTP integration poster) and ~25 nodes
running the real firmware under the MicroPython Unix port on an accelerated clock.
"""

from __future__ import annotations

import shutil
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import typer


def demo(
    nodes: int = typer.Option(25, help="Number of emulated nodes."),
    speed: float = typer.Option(600.0, help="Simulated seconds per wall second (600: a day in 2.4 minutes)."),
    port: int = typer.Option(8000, help="Port of the fleet manager on 127.0.0.1."),
    scenario: str = typer.Option("district", help="Scenario file or shipped name."),
    data_dir: Path = typer.Option(Path("var/demo"), help="Where the demo database and node flash live."),
    days: float = typer.Option(30.0, help="Stop after this many simulated days."),
    history_days: float = typer.Option(
        2.0, help="Start the simulated clock this many days before now, so charts fill with history."
    ),
) -> None:
    """Fleet manager on SQLite plus an emulated district of nodes; prints the dashboard URL and tokens."""
    from rich.console import Console

    from tools.emulator.local_fleet import LocalFleet, free_port
    from tools.emulator.runner import Emulation, EmulatorError
    from tools.emulator.scenario import ScenarioError, load
    from tools.nodetool.errors import NodeToolError

    console = Console()
    try:
        sc = load(scenario)
        if nodes != len(sc.nodes):
            sc = sc.with_nodes(nodes)
    except ScenarioError as e:
        console.print(f"[red]error:[/red] {e}")
        raise typer.Exit(2) from e
    if data_dir.exists():  # a fresh district each time: new tokens, new database
        shutil.rmtree(data_dir)
    data_dir.mkdir(parents=True)
    port = port or free_port()
    fleet = LocalFleet(data_dir=data_dir / "fleet", grpc_target="", port=port, sweep_interval_s=30)
    # The fleet judges "last seen" and draws its 24 h / 7 d charts against the wall clock, while the nodes
    # report on the accelerated simulated clock: starting it in the past lets the first minutes of the demo
    # fill the charts with history (and the district's fire) that the pages show as such. Past `now` the
    # simulated clock runs ahead of the wall clock, which the pages show as "seen 0 s ago".
    now = datetime.now(UTC).replace(second=0, microsecond=0) - timedelta(days=history_days)
    emu = Emulation(
        sc,
        days=days,
        fleet_url=f"http://127.0.0.1:{port}",
        ingest_token=fleet.ingest_token,
        api_token=fleet.grpc_api_token,
        application_id=fleet.application_id,
        device_profile_id=fleet.device_profile_id,
        speed=speed,
        start=now,
        workdir=data_dir / "nodes",
    )
    try:
        emu.start_services()
        fleet.grpc_target = emu.grpc.target
        fleet.start()
        fleet.provision(sc.nodes)
        unverified = fleet.verify(emu, sc.nodes)  # the depot's self-test, so the nodes count as provisioned
        emu.start_nodes()
    except (EmulatorError, RuntimeError, NodeToolError) as e:
        console.print(f"[red]error:[/red] {e}")
        emu.stop()
        fleet.stop()
        raise typer.Exit(2) from e
    eui = sc.nodes[0].dev_eui.upper()
    console.print(
        f"\n[bold]Kumpel demo[/bold]: {len(sc.nodes)} emulated nodes in {sc.name}, clock x{speed:g}"
        f" (simulated start {now:%Y-%m-%d %H:%M} UTC: {history_days:g} days of history,"
        f" caught up with now in {history_days * 86400 / speed / 60:.1f} min)\n"
        f"  verified    {len(sc.nodes) - len(unverified)} of {len(sc.nodes)} nodes passed the firmware"
        f" self-test{' (failed: ' + ', '.join(unverified) + ')' if unverified else ''}\n"
        f"  dashboard   {fleet.url}/   (sign in as crew, or with the admin token)\n"
        f"  crew        user crew, password {fleet.crew_password}  (a technician; My account shows a phone"
        " sign-in QR code)\n"
        f"  admin token {fleet.admin_token}\n"
        f"  API         {fleet.url}/api/v1  (Authorization: Bearer <admin token>), docs {fleet.url}/docs\n"
        f"  ingest      POST {fleet.url}/integrations/chirpstack  (Bearer {fleet.ingest_token})\n"
        f"  ChirpStack  simulated gRPC API on {emu.grpc.target}  (Bearer {fleet.grpc_api_token})\n"
        f"Try a config change:\n  curl -X PUT -H 'Authorization: Bearer {fleet.admin_token}'"
        f" -H 'Content-Type: application/json' -d '{{\"settings\": {{\"meas_interval_min\": 10}}}}'"
        f" {fleet.url}/api/v1/devices/{eui}/config\n"
        "Ctrl-C stops everything.\n"
    )
    last = 0.0
    try:
        while emu.running():
            if time.monotonic() - last > 10:
                last = time.monotonic()
                s = emu.summary()
                posted = s.get("fleet", {})
                at = emu.scenario.start + timedelta(microseconds=emu.sim_now_us())
                console.print(
                    f"  {at:%a %d.%m. %H:%M}  uplinks {s['uplinks']:5d}  joins {s['joins']:3d}"
                    f"  downlinks {s['downlinks']:3d}"
                    f"  events posted {posted.get('posted', 0)} (failed {posted.get('failed', 0)})"
                )
            time.sleep(0.5)
    except KeyboardInterrupt:
        console.print("stopping…")
    finally:
        emu.stop()
        fleet.stop()
