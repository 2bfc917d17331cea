"""`kumpel demo` / `make demo`: the fleet manager on SQLite plus an emulated Bochum district, until Ctrl-C.

Everything runs on this machine and talks over loopback only: the fleet manager (uvicorn, SQLite in
./var/demo, development mode), the simulated ChirpStack (gRPC API + HTTP integration poster) and ~25 nodes
running the real firmware under the MicroPython Unix port. The history is replayed flat out before the
dashboard's address is printed, so the first page shows the district as it is now; then the simulated
clock follows the wall clock (x1, or --speed).
"""

from __future__ import annotations

import shutil
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import typer


def demo(
    nodes: int = typer.Option(25, help="Number of emulated nodes."),
    speed: float = typer.Option(
        1.0, help="After the history is replayed: simulated seconds per wall second (1: real time)."
    ),
    port: int = typer.Option(8000, help="Port of the fleet manager on 127.0.0.1."),
    scenario: str = typer.Option("district", help="Scenario file or shipped name."),
    data_dir: Path = typer.Option(Path("var/demo"), help="Where the demo database and node flash live."),
    days: float = typer.Option(30.0, help="Stop after this many simulated days after now."),
    history_days: float = typer.Option(
        2.0, help="Replay this many simulated days before now first, so charts fill with history."
    ),
) -> None:
    """Fleet manager on SQLite plus an emulated district of nodes; prints the dashboard URL and tokens."""
    from rich.console import Console

    from tools.emulator.local_fleet import LocalFleet, free_port
    from tools.emulator.runner import Emulation, EmulatorError
    from tools.emulator.scenario import ScenarioError, load
    from tools.nodetool.errors import NodeToolError

    # soft_wrap: logged to a file, rich would hard-wrap at 80 columns and break commands and tokens
    console = Console(soft_wrap=True)
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
    data_dir = data_dir.resolve()
    port = port or free_port()
    # No background sweep while history is replayed: the fleet judges "last seen" against the wall clock,
    # and would open an offline alert for every node whose replay has not reached now yet.
    fleet = LocalFleet(data_dir=data_dir / "fleet", grpc_target="", port=port, sweep_interval_s=0)
    start = datetime.now(UTC).replace(second=0, microsecond=0) - timedelta(days=history_days)
    emu = Emulation(
        sc,
        days=history_days + days,
        fleet_url=f"http://127.0.0.1:{port}",
        ingest_token=fleet.ingest_token,
        api_token=fleet.grpc_api_token,
        application_id=fleet.application_id,
        device_profile_id=fleet.device_profile_id,
        start=start,
        workdir=data_dir / "nodes",
    )
    try:
        emu.start_services()
        fleet.grpc_target = emu.grpc.target
        fleet.start()
        fleet.provision(sc.nodes)
        unverified = fleet.verify(emu, sc.nodes)  # the depot's self-test, so the nodes count as provisioned
        console.print(
            f"replaying {history_days:g} simulated days of {len(sc.nodes)} nodes before the dashboard opens…"
        )
        t0 = time.monotonic()
        emu.start_nodes()
        caught_up = catch_up(emu, on_progress=lambda e: _progress(console, e))
        emu.clock.pace(speed, caught_up)
        fleet.start_sweeping(30)
    except (EmulatorError, RuntimeError, NodeToolError) as e:
        console.print(f"[red]error:[/red] {e}")
        emu.stop()
        fleet.stop()
        raise typer.Exit(2) from e
    eui = sc.nodes[0].dev_eui.upper()
    db = data_dir / "fleet" / "kumpel.db"
    banner = [
        f"\nKumpel demo: {len(sc.nodes)} emulated nodes in {sc.name}; {history_days:g} simulated days of"
        f" history replayed in {time.monotonic() - t0:.0f} s, now running at x{speed:g}"
        + (" (real time)" if speed == 1 else ""),
        f"  verified    {len(sc.nodes) - len(unverified)} of {len(sc.nodes)} nodes passed the firmware"
        f" self-test{' (failed: ' + ', '.join(unverified) + ')' if unverified else ''}",
        f"  dashboard   {fleet.url}/   (sign in as crew, or with the admin token)",
        f"  crew        user crew, password {fleet.crew_password}  (a technician; My account shows a phone"
        " sign-in QR code)",
        f"  admin token {fleet.admin_token}",
        f"  API         {fleet.url}/api/v1  (Authorization: Bearer <admin token>), docs {fleet.url}/docs",
        f"  ingest      POST {fleet.url}/integrations/chirpstack  (Bearer {fleet.ingest_token})",
        f"  ChirpStack  simulated gRPC API on {emu.grpc.target}  (Bearer {fleet.grpc_api_token})",
        f"  database    {db}",
        "A technician token for this database:",
        f"  KUMPEL_ENV=development KUMPEL_DATABASE_URL=sqlite:///{db} kumpel fleet token create"
        " --role technician --name technician",
        "Try a config change:",
        f"  curl -X PUT -H 'Authorization: Bearer {fleet.admin_token}'"
        f" -H 'Content-Type: application/json' -d '{{\"settings\": {{\"meas_interval_min\": 10}}}}'"
        f" {fleet.url}/api/v1/devices/{eui}/config",
        "Ctrl-C stops everything.\n",
    ]
    for line in banner:  # plain text: no markup or highlighting inside tokens and commands
        console.print(line, markup=False, highlight=False)
    last = time.monotonic()
    try:
        while emu.running():
            if time.monotonic() - last > 60:
                last = time.monotonic()
                _progress(console, emu)
            time.sleep(0.5)
    except KeyboardInterrupt:
        console.print("stopping…")
    finally:
        emu.stop()
        fleet.stop()


def catch_up(emu, on_progress=None, every_s: float = 10.0, close_s: float = 5.0) -> int:
    """Run the emulation flat out until its simulated clock has reached the wall clock; returns that
    instant (µs of simulated time). The barrier is moved to the wall clock's now until a pass ends within
    `close_s` of it, since the wall clock moves on while history is replayed."""
    last = time.monotonic()
    while True:
        target = int((datetime.now(UTC) - emu.scenario.start).total_seconds() * 1_000_000)
        emu.clock.hold(target)
        while not emu.clock.at_barrier() and emu.running():
            if on_progress and time.monotonic() - last > every_s:
                last = time.monotonic()
                on_progress(emu)
            time.sleep(0.1)
        if emu.events is not None:  # the fleet has every replayed event before anybody looks
            emu.events.drain()
        behind = (datetime.now(UTC) - emu.scenario.start).total_seconds() * 1_000_000 - target
        if behind < close_s * 1_000_000 or not emu.running():
            return target


def _progress(console, emu) -> None:
    s = emu.summary()
    posted = s.get("fleet", {})
    at = emu.scenario.start + timedelta(microseconds=emu.sim_now_us())
    console.print(
        f"  {at:%a %d.%m. %H:%M}  uplinks {s['uplinks']:5d}  joins {s['joins']:3d}"
        f"  downlinks {s['downlinks']:3d}"
        f"  events posted {posted.get('posted', 0)} (failed {posted.get('failed', 0)})"
    )
