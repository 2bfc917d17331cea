"""Make the repository's `tools` package win over the `tests/tools` folder on sys.path.

pytest puts tests/ on sys.path (rootdir conftest), where `tools/` is a namespace folder that would shadow
the real package; a regular package anywhere on the path wins, so the repository root only has to be there.
"""

import sys
from pathlib import Path

ROOT = str(Path(__file__).resolve().parents[2])
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)


import pytest  # noqa: E402

from tools.emulator.local_fleet import LocalFleet  # noqa: E402


@pytest.fixture()
def fleet_factory(tmp_path):
    """Start a real fleet manager (uvicorn on loopback, SQLite in tmp) once the gRPC target is known."""
    started: list[LocalFleet] = []

    def make(**kw) -> LocalFleet:
        fleet = LocalFleet(data_dir=tmp_path / "fleet", grpc_target="", sweep_interval_s=0, **kw)
        started.append(fleet)
        return fleet

    yield make
    for fleet in started:
        fleet.stop()
