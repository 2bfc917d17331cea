"""A fleet manager on a real uvicorn in this process, wired to the simulated ChirpStack (demo, e2e tests).

It starts the real app (`fleet.app:create_app`) on 127.0.0.1 with embedded SQLite, makes a fresh admin
token and ingest token, and provisions scenario nodes through the fleet's own HTTP API, so the demo and
the end-to-end tests exercise the same paths a technician does.
"""

from __future__ import annotations

import secrets
import socket
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from tools.emulator.runner import Emulation
from tools.emulator.scenario import NodeSpec


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class LocalFleet:
    data_dir: Path
    grpc_target: str
    application_id: str = "kumpel-sim-app"
    device_profile_id: str = "kumpel-sim-profile"
    port: int = 0
    sweep_interval_s: int = 60
    ingest_token: str = field(default_factory=lambda: secrets.token_urlsafe(24))
    grpc_api_token: str = field(default_factory=lambda: secrets.token_urlsafe(24))
    admin_token: str = ""
    database_url: str = ""  # empty: SQLite in data_dir (the demo); a PostgreSQL URL for the e2e tests on PG
    # a technician's account for the pages (user "crew"): people sign in with a password, not a token
    crew_password: str = field(default_factory=lambda: secrets.token_urlsafe(9))
    url: str = ""
    _server: object = None
    _thread: threading.Thread | None = None
    _sweeping: threading.Event = field(default_factory=threading.Event)

    def start(self, timeout_s: float = 30.0) -> LocalFleet:
        import uvicorn
        from sqlmodel import Session

        from fleet.app import create_app
        from fleet.services import accounts, tokens
        from fleet.settings import Settings

        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.port = self.port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        settings = Settings(
            env="development",
            database_url=self.database_url or f"sqlite:///{self.data_dir / 'kumpel.db'}",
            secret_key=secrets.token_urlsafe(32),
            ingest_token=self.ingest_token,
            public_url=self.url,
            lns="chirpstack-grpc",
            chirpstack_grpc=self.grpc_target,
            chirpstack_api_token=self.grpc_api_token,
            chirpstack_application_id=self.application_id,
            chirpstack_device_profile_id=self.device_profile_id,
            sweep_interval_s=self.sweep_interval_s,
        )
        app = create_app(settings)
        with Session(app.state.engine) as session:
            _, self.admin_token = tokens.create(session, name="demo admin", role="admin")
            crew = {"username": "crew", "role": "technician", "display_name": "Demo crew"}
            accounts.create(session, password=self.crew_password, **crew)
            session.commit()
        config = uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning", lifespan="on")
        server = uvicorn.Server(config)
        self._server = server
        self._thread = threading.Thread(target=server.run, name="fleet-uvicorn", daemon=True)
        self._thread.start()
        deadline = time.monotonic() + timeout_s
        while not server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError(f"fleet manager did not start on {self.url}")
            time.sleep(0.05)
        return self

    def start_sweeping(self, interval_s: float) -> None:
        """The fleet's periodic sweep (offline alerts, downlink retries) from now on, through its API.
        The demo starts it once history is replayed: a sweep during the replay would find every node
        silent against the wall clock and open an offline alert for each."""
        self._sweeping.clear()

        def loop() -> None:
            with self.api() as client:
                while not self._sweeping.wait(interval_s):
                    try:
                        client.post("/sweep")
                    except httpx.HTTPError:  # the fleet stopping; the next pass retries
                        pass

        threading.Thread(target=loop, name="fleet-sweep", daemon=True).start()

    def stop(self) -> None:
        self._sweeping.set()
        if self._server is not None:
            self._server.should_exit = True  # type: ignore[attr-defined]
        if self._thread is not None:
            self._thread.join(timeout=10)

    def api(self) -> httpx.Client:
        return httpx.Client(
            base_url=f"{self.url}/api/v1", timeout=30, headers={"Authorization": f"Bearer {self.admin_token}"}
        )

    def provision(self, nodes: list[NodeSpec] | tuple[NodeSpec, ...]) -> None:
        provision_via_api(self.url, self.admin_token, nodes)

    def verify(self, emu: Emulation, nodes: list[NodeSpec] | tuple[NodeSpec, ...]) -> list[str]:
        return verify_via_api(self.url, self.admin_token, emu, nodes)


def provision_via_api(url: str, admin_token: str, nodes: list[NodeSpec] | tuple[NodeSpec, ...]) -> None:
    """Add the nodes through the fleet's API, which registers them in (simulated) ChirpStack over gRPC,
    then set the scenario's settings as desired config; one sweep hands the config downlinks over."""
    headers = {"Authorization": f"Bearer {admin_token}"}
    with httpx.Client(base_url=f"{url.rstrip('/')}/api/v1", timeout=30, headers=headers) as client:
        for n in nodes:
            body = {
                "dev_eui": n.dev_eui,
                "join_eui": n.join_eui,
                "app_key": n.app_key,
                "name": n.name,
                "board": n.board,
                "ultrasonic": n.ultrasonic,
                "climate": n.climate,
                "bin_height_cm": n.config.get("bin_height_cm"),
                "district": n.group,
                "groups": [n.group],
            }
            r = client.post("/devices", json=body)
            if r.status_code not in (201, 409):  # 409: provisioned by an earlier run, keep it
                raise RuntimeError(
                    f"provisioning {n.name} ({n.dev_eui}) failed: HTTP {r.status_code} {r.text}"
                )
            settings = {k: v for k, v in n.config.items() if k != "bin_height_cm"}
            if settings:  # the scenario's settings as desired config: the fleet sends the downlink
                r = client.put(f"/devices/{n.dev_eui.upper()}/config", json={"settings": settings})
                if r.status_code != 200:
                    raise RuntimeError(f"config for {n.name} refused: HTTP {r.status_code} {r.text}")
        # provisioning queues the first config (bin height) in the fleet; one sweep hands it to ChirpStack
        r = client.post("/sweep")
        if r.status_code != 200:
            raise RuntimeError(f"fleet sweep after provisioning failed: HTTP {r.status_code} {r.text}")


def verify_via_api(
    url: str, token: str, emu: Emulation, nodes: list[NodeSpec] | tuple[NodeSpec, ...]
) -> list[str]:
    """The depot's last step before a node goes to the street: the firmware's self-test on the node's
    (simulated) hardware, reported to the fleet with the node tool's own code, so the fleet counts the
    node as provisioned the way it would a real one. Returns the names of the nodes that failed."""
    from tools.nodetool.fleetapi import Fleet
    from tools.nodetool.verify import SELFTEST_CODE, VerifyResult, parse_selftest, selftest_checks

    failed = []
    with Fleet(url, token) as fleet:
        for n in nodes:
            doc, _log = parse_selftest(emu.selftest(n, SELFTEST_CODE))
            result = VerifyResult(
                dev_eui=n.dev_eui.upper(),
                checks=selftest_checks(doc),
                micropython="MicroPython Unix port (kumpel emu)",
            )
            if fleet.report_verification(result.dev_eui, result) is None:
                raise RuntimeError(f"verifying {n.name}: the fleet has no device {result.dev_eui}")
            if not result.ok:
                failed.append(n.name)
    return failed
