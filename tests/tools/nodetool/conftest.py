"""Fixtures for the node tool: a virtual board on a pty, the real fleet app on loopback, a tiny firmware.

The fleet is the real `fleet.app:create_app` under uvicorn on 127.0.0.1 with a temp SQLite, shared by the
module's tests (start-up and migration cost once); tokens per role are made through its own service.
"""

from __future__ import annotations

import secrets
import socket
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest

# The repository's `tools` package must win over the `tests/tools` folder that pytest puts on sys.path.
ROOT = str(Path(__file__).resolve().parents[3])
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

from tools.emulator.virtual_board import VirtualBoard  # noqa: E402

# A minimal firmware tree that keeps the contract of docs/CONTRACTS.md §3: node.selftest.run() prints one
# SELFTEST line. Its result is steered by a file on the board, so a test can make a check fail.
TEST_SELFTEST = textwrap.dedent(
    """
    import json


    def run():
        try:
            with open("selftest_fail.txt") as f:
                failing = f.read().strip()
        except OSError:
            failing = ""
        checks = []
        for name in ("ultrasonic", "climate", "modem_at", "modem_deveui"):
            ok = name != failing
            checks.append({"name": name, "ok": ok, "detail": "sane" if ok else "no answer"})
        ok = all(c["ok"] for c in checks)
        print("[12] INFO selftest start")
        print("SELFTEST " + json.dumps({"ok": ok, "checks": checks}))
    """
)


def write_tree(root: Path, files: dict[str, str]) -> Path:
    for rel, text in files.items():
        p = root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text)
    return root


@pytest.fixture(autouse=True)
def _private_build_cache(tmp_path_factory, monkeypatch):  # noqa: ANN001, ANN202
    """Compiled .mpy go to a cache of this test session, not the technician's ~/.cache."""
    monkeypatch.setenv("KUMPEL_CACHE", str(tmp_path_factory.getbasetemp() / "kumpel-cache"))


@pytest.fixture
def test_firmware(tmp_path: Path) -> list[tuple[Path, str]]:
    """Deploy sources [(folder, board prefix)] for a small firmware with the self-test contract."""
    fw = write_tree(
        tmp_path / "fw",
        {
            "main.py": "print('[1] INFO main')\n",
            "node/__init__.py": "",
            "node/selftest.py": TEST_SELFTEST,
            "node/util.py": "def double(x):\n    return 2 * x\n",
        },
    )
    proto = write_tree(tmp_path / "proto", {"__init__.py": "", "codec.py": "PORT_MEASUREMENT = 1\n"})
    return [(fw, ""), (proto, "protocols/")]


@pytest.fixture
def vboard(tmp_path: Path):  # noqa: ANN201
    board = VirtualBoard(tmp_path / "flash")
    board.start()
    yield board
    board.stop()


def _free_socket() -> socket.socket:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    return sock


class FleetServer:
    def __init__(self, url: str, app) -> None:  # noqa: ANN001
        self.url = url
        self.app = app

    def token(self, role: str) -> str:
        from sqlmodel import Session

        from fleet.services import tokens

        with Session(self.app.state.engine) as s:
            _, token = tokens.create(s, name=f"test-{role}", role=role)
            s.commit()
        return token


@pytest.fixture(scope="module")
def fleet_server(tmp_path_factory):  # noqa: ANN001, ANN201
    import uvicorn

    from fleet.app import create_app
    from fleet.settings import Settings

    db = tmp_path_factory.mktemp("fleet") / "fleet.db"
    settings = Settings(
        env="test",
        database_url=f"sqlite:///{db}",
        secret_key=secrets.token_urlsafe(32),
        ingest_token="ingest-" + secrets.token_hex(8),
        sweep_interval_s=0,
    )
    app = create_app(settings)
    sock = _free_socket()
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="on"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.time() + 15
    while not server.started and time.time() < deadline:
        time.sleep(0.02)
    assert server.started, "the fleet did not start under uvicorn"
    yield FleetServer(f"http://127.0.0.1:{sock.getsockname()[1]}", app)
    server.should_exit = True
    thread.join(5)
    sock.close()


@pytest.fixture(scope="module")
def tech_token(fleet_server: FleetServer) -> str:
    return fleet_server.token("technician")


@pytest.fixture
def closed_port_url() -> str:
    """A loopback URL where nothing listens: the fleet is unreachable."""
    sock = _free_socket()
    port = sock.getsockname()[1]
    sock.close()
    return f"http://127.0.0.1:{port}"
