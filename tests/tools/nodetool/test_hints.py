"""Every hint the node tool can print names commands and options the CLI really has.

Before: the "already provisioned" hint said to re-run with --rotate-keys, which `kumpel node setup` did not
accept, and setup had no --name. The check reads the CLI's own click command tree (cli_options.py) and
every string in the node tool's source, so a new hint is checked the day it is written.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from cli_options import command, options, problems

from tools.nodetool import errors

NODETOOL = Path(errors.__file__).resolve().parent


def _strings(path: Path) -> list[str]:
    """String constants and the literal parts of f-strings, as written in the module (docstrings aside)."""
    tree = ast.parse(path.read_text())
    docstrings = {
        id(n.body[0].value)
        for n in ast.walk(tree)
        if isinstance(n, ast.Module | ast.FunctionDef | ast.ClassDef)
        and n.body
        and isinstance(n.body[0], ast.Expr)
        and isinstance(n.body[0].value, ast.Constant)
    }
    found = []
    for node in ast.walk(tree):
        if id(node) in docstrings:
            continue
        if isinstance(node, ast.JoinedStr):
            found.append("".join(v.value if isinstance(v, ast.Constant) else "<X>" for v in node.values))
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            found.append(node.value)
    return found


@pytest.mark.parametrize("module", sorted(p.name for p in NODETOOL.glob("*.py")))
def test_every_string_in_the_node_tool_names_real_options(module):
    # cli.py declares the options themselves; its help texts are checked by click
    texts = [
        t for t in _strings(NODETOOL / module) if ("--" in t and " " in t) or "`kumpel" in t
    ]  # argv aside
    if module == "cli.py":
        texts = [t for t in texts if "`kumpel" in t]
    bad = {t: p for t in texts if (p := problems(t))}
    assert bad == {}


def test_every_error_class_hint_names_real_options():
    classes = [
        c for c in vars(errors).values() if isinstance(c, type) and issubclass(c, errors.NodeToolError)
    ]
    assert len(classes) > 10
    assert {c.__name__: problems(c.hint) for c in classes if problems(c.hint)} == {}


def test_setup_accepts_everything_provision_does():
    """A hint raised by provision is printed by setup too: both take the same identity options."""
    provision_opts = options(command(["node", "provision"]))
    assert provision_opts <= options(command(["node", "setup"]))
    assert {"--rotate-keys", "--name", "--dev-eui", "--new"} <= provision_opts


def test_the_checker_catches_what_was_wrong():
    old_hint = "If you really mean to re-key it, run provision again with --rotate-keys (the old keys stop)."
    old_setup = command(["node", "setup"])
    assert old_setup is not None
    assert problems("`kumpel node setup --no-such-option`") == [
        "`kumpel node setup --no-such-option`: `kumpel node setup` has no --no-such-option"
    ]
    assert problems("`kumpel node frobnicate`")
    assert problems(old_hint, bare_ok_on=("node verify",))  # verify has no --rotate-keys
