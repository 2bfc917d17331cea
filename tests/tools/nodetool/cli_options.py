"""Checks text meant for a technician against the `kumpel` CLI's real commands and options (click's own
command tree, built by typer from tools.cli.app), so a hint can never name an option that does not exist.
Typer carries its own copy of click, so groups are told apart by their `commands`, not by class."""

from __future__ import annotations

import re

import typer.main

from tools.cli import app

ROOT = typer.main.get_command(app)
_COMMAND = re.compile(r"`(kumpel [^`]*)`")
_OPTION = re.compile(r"(?<![\w-])(--[a-z][a-z0-9-]*)")


def is_group(cmd: object) -> bool:
    return isinstance(getattr(cmd, "commands", None), dict)


def command(path: list[str]):  # noqa: ANN201 - typer's click Command
    cmd = ROOT
    for name in path:
        if not is_group(cmd) or name not in cmd.commands:
            return None
        cmd = cmd.commands[name]
    return cmd


def options(cmd) -> set[str]:  # noqa: ANN001
    return {o for p in cmd.params for o in (*p.opts, *p.secondary_opts) if o.startswith("--")} | {"--help"}


def problems(text: str, bare_ok_on: tuple[str, ...] = ("node setup",)) -> list[str]:
    """What in `text` names a command or option the CLI lacks. Backticked `kumpel ...` commands are
    resolved and their options checked; an option named outside backticks must exist on each command in
    `bare_ok_on` (the commands the text can be printed by)."""
    out = []
    for m in _COMMAND.finditer(text):
        words = m.group(1).split()[1:]
        path = []
        for w in words:
            if w.startswith("-") or w.startswith("<") or w.isupper() or "=" in w:
                break
            path.append(w)
        cmd = command(path)
        if cmd is None or is_group(cmd):
            out.append(f"`{m.group(1)}`: no command `kumpel {' '.join(path)}`")
            continue
        for opt in _OPTION.findall(m.group(1)):
            if opt not in options(cmd):
                out.append(f"`{m.group(1)}`: `kumpel {' '.join(path)}` has no {opt}")
    outside = _COMMAND.sub("", text)
    for opt in _OPTION.findall(outside):
        for name in bare_ok_on:
            cmd = command(name.split())
            if cmd is None or opt not in options(cmd):
                out.append(f"{opt} (named on its own) is not an option of `kumpel {name}`")
    return out
