"""The `kumpel` command line: one entry point, a sub-command group per part of the product."""

import typer

from fleet.cli import app as fleet_app
from tools.codec_cli import app as codec_app
from tools.demo import demo
from tools.emulator.cli import app as emu_app
from tools.energy import cli as energy_cli
from tools.nodetool.cli import app as node_app

app = typer.Typer(help="Kumpel: LoRaWAN waste-bin and climate sensor fleet.", no_args_is_help=True)
app.add_typer(codec_app, name="codec", help="Encode, decode and size frames of the wire contract.")
app.add_typer(fleet_app, name="fleet", help="The fleet manager service and its administration.")
app.add_typer(node_app, name="node", help="Flash, deploy, provision and verify a node over USB.")
app.add_typer(emu_app, name="emu", help="Run the real firmware on simulated hardware.")
app.command("demo", help="Fleet manager on SQLite plus an emulated district of nodes.")(demo)
app.command("energy", help="Battery life of a node: energy model inputs, years per battery, sensitivity.")(
    energy_cli
)

if __name__ == "__main__":
    app()
