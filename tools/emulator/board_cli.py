"""`kumpel emu board`: a virtual board on a pty for the node tool, until Ctrl-C.

Prints the serial path to use (`kumpel node deploy --port <path>` or KUMPEL_NODE_PORT=<path>).
"""

from __future__ import annotations

import signal
import tempfile
import time
from pathlib import Path

import typer


def board(
    folder: Path | None = typer.Option(
        None, "--folder", help="The board's flash: a folder kept across restarts (default: a temp folder)."
    ),
    run_main: bool = typer.Option(
        False, "--run-main", help="Run main.py at every (re)boot, as a board does."
    ),
    heap: str = typer.Option("192k", help="MicroPython heap; the sim layer shares it (sim/README.md)."),
    modem_dev_eui: str = typer.Option(
        "70B3D57ED0000B0A", "--modem-dev-eui", help="The simulated modem's own DevEUI (its label)."
    ),
    board_name: str = typer.Option("devkit_rak3172", "--board", help="Board profile the sim wires up."),
    ultrasonic: str = typer.Option("a02yyuw", help="Attached ultrasonic sensor kind, or 'none'."),
    climate: str = typer.Option("shtc3", help="Attached climate sensor kind, or 'none'."),
) -> None:
    """Start a virtual board: the MicroPython Unix port on a pty with the simulated hardware layer."""
    from tools.emulator.virtual_board import SIM_DIR, VirtualBoard, default_world

    if not SIM_DIR.is_dir():
        typer.echo(f"note: {SIM_DIR} is missing: the board runs without simulated hardware", err=True)
    folder = folder or Path(tempfile.mkdtemp(prefix="kumpel-board-")) / "flash"
    world = default_world(
        modem_dev_eui.upper(),
        board_name,
        None if ultrasonic == "none" else ultrasonic,
        None if climate == "none" else climate,
    )
    vb = VirtualBoard(folder, heap=heap, run_main=run_main, world=world)
    path = vb.start()
    signal.signal(signal.SIGTERM, signal.default_int_handler)  # `kill` stops it cleanly, like Ctrl-C
    typer.echo(path)
    typer.echo(f"virtual board on {path}, flash folder {folder}; Ctrl-C to stop", err=True)
    try:
        while True:
            time.sleep(1)
    except KeyboardInterrupt:
        pass
    finally:
        vb.stop()
