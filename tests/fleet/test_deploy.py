"""deploy/ stays true to the CLI: every `kumpel ...` command line in the compose file and the systemd units
names a real command with real options (a renamed option would otherwise surface only in production)."""

import re
import shlex
from pathlib import Path

import typer
import yaml

from tools.cli import app as kumpel_cli

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"


def _command_lines() -> list[list[str]]:
    lines = []
    compose = yaml.safe_load((DEPLOY / "compose.yaml").read_text())
    for service in compose["services"].values():
        if isinstance(service.get("command"), list) and service["command"][0] == "kumpel":
            lines.append(service["command"][1:])
    for unit in (DEPLOY / "systemd").glob("*.service"):
        for m in re.finditer(r"^ExecStart=\S*/kumpel (.+)$", unit.read_text(), re.M):
            lines.append(shlex.split(m.group(1)))
    return lines


def test_compose_and_units_use_real_commands_and_options():
    lines = _command_lines()
    assert {tuple(line[:2]) for line in lines} == {("fleet", "serve"), ("fleet", "mqtt")}
    root = typer.main.get_command(kumpel_cli)
    for line in lines:
        cmd, words = root, list(line)
        while words and hasattr(cmd, "commands") and words[0] in cmd.commands:
            cmd = cmd.commands[words.pop(0)]
        options = {o for p in cmd.params for o in p.opts}
        for word in words:
            if word.startswith("--"):
                assert word in options, f"{' '.join(line)}: no option {word} (has {sorted(options)})"
    serve = next(line for line in lines if line[:2] == ["fleet", "serve"])
    assert "--workers" in serve
