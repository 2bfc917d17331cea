"""Placeholder sub-command group; replaced by its part's issue."""

import typer

app = typer.Typer(no_args_is_help=True)
