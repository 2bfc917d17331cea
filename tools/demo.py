"""`kumpel demo` / `make demo`: placeholder until the emulator issue makes it the full demo."""

import typer


def demo() -> None:
    typer.echo("demo: not built yet")
