"""`kumpel fleet ...`: run the service and administer it on the server (works on the database directly,
with the same services the API uses; KUMPEL_DATABASE_URL selects the database)."""

import json
import os
import sys
import tempfile
from contextlib import contextmanager
from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table
from sqlmodel import Session, col, select

app = typer.Typer(no_args_is_help=True, help="The fleet manager service and its administration.")
devices_app = typer.Typer(no_args_is_help=True, help="Register, import, list and show nodes.")
token_app = typer.Typer(no_args_is_help=True, help="API tokens.")
config_app = typer.Typer(no_args_is_help=True, help="Desired configuration.")
rollout_app = typer.Typer(no_args_is_help=True, help="Staged config rollouts to a group.")
app.add_typer(devices_app, name="devices")
app.add_typer(token_app, name="token")
app.add_typer(config_app, name="config")
app.add_typer(rollout_app, name="rollout")
console = Console()
STATUS_STYLE = {
    "ok": "green",
    "warning": "yellow",
    "critical": "bold red",
    "offline": "red",
    "unknown": "dim",
}


def _settings():  # noqa: ANN202
    from fleet.settings import Settings

    try:
        return Settings()
    except ValueError as exc:
        console.print(f"[red]configuration error:[/red] {exc}")
        raise typer.Exit(2) from exc


@contextmanager
def _db(create: bool = False):
    """The configured database, migrated to the newest revision. Only `create` (init, migrate, serve) may
    make a new one: every other command refuses a database that does not exist yet and names the one it
    looked for, instead of succeeding against a new empty file."""
    from fleet import db
    from fleet.cli_db import DatabaseProblem, open_database
    from fleet.lns.factory import make_adapter

    cfg = _settings()
    try:
        engine = open_database(cfg.database_url, create=create)
        db.migrate(engine)
    except DatabaseProblem as exc:
        console.print(f"[red]error:[/red] {exc}", soft_wrap=True)
        raise typer.Exit(2) from exc
    except Exception as exc:  # a server that stops answering half-way through the migration
        from fleet.cli_db import describe

        console.print(f"[red]error:[/red] {describe(cfg.database_url, exc)}", soft_wrap=True)
        raise typer.Exit(2) from exc
    adapter = make_adapter(cfg)
    try:
        with Session(engine) as session:
            yield session, cfg, adapter
    finally:
        adapter.close()
        engine.dispose()


def _fail(message: str) -> None:
    console.print(f"[red]error:[/red] {message}")
    raise typer.Exit(1)


def _device(session: Session, dev_eui: str):  # noqa: ANN202
    from fleet.models import Device
    from protocols import identity

    d = session.exec(select(Device).where(Device.dev_eui == identity.normalize_eui(dev_eui))).first()
    if d is None:
        _fail(f"no device {dev_eui}")
    return d


@app.command()
def serve(host: str = "127.0.0.1", port: int = 8000, workers: int = 1) -> None:
    """Run the HTTP service (API, integrations, pages, /metrics) under uvicorn; creates the database.
    --workers N runs N processes behind the port (PostgreSQL only), each with its own ingest writer."""
    import uvicorn

    if workers > 1:
        url = _settings().database_url
        if not url.startswith("postgresql"):
            console.print(
                f"[red]error:[/red] --workers {workers} needs PostgreSQL: SQLite has one writer at a time, "
                "so several processes would only queue on its lock. Run one worker on SQLite, or set "
                "KUMPEL_DATABASE_URL=postgresql+psycopg://... (see deploy/README.md).",
                soft_wrap=True,
            )
            raise typer.Exit(2)
    with _db(create=True):  # one clear line for a database that does not answer, before uvicorn starts
        pass
    if workers > 1 and not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        # /metrics sums the counters of all workers from these files (fleet/metrics.py); fresh per start.
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="kumpel-metrics-")
    uvicorn.run("fleet.app:create_app", factory=True, host=host, port=port, workers=workers)


@app.command()
def init() -> None:
    """Create the database (KUMPEL_DATABASE_URL) with the newest schema; safe on an existing one."""
    from fleet.cli_db import where

    with _db(create=True) as (_s, cfg, _a):
        console.print(f"database ready at {where(cfg.database_url)}", soft_wrap=True)
        console.print("next: kumpel fleet token create --role admin")


@app.command()
def migrate() -> None:
    """Apply database migrations (serve does this at start-up too); creates the database like init."""
    with _db(create=True):
        console.print("database at the newest revision")


@app.command()
def mqtt() -> None:
    """Ingest from the ChirpStack MQTT integration until Ctrl-C (KUMPEL_MQTT_TOPIC, KUMPEL_MQTT_CLIENT_ID).

    Each message is acknowledged to the broker only after it is committed; with the stable client id the
    broker keeps what arrives while this is stopped and delivers it on the next start."""
    import socket
    import threading

    from fleet.lns.base import LnsError
    from fleet.lns.mqtt import Subscriber
    from fleet.metrics import Metrics
    from fleet.services.receive import handle

    with _db() as (session, cfg, adapter):
        metrics = Metrics(session.get_bind())
        lock = threading.Lock()

        def on_item(item) -> None:  # noqa: ANN001
            with lock, Session(session.get_bind()) as s:
                result = handle(item, s, cfg, adapter, metrics)
                console.print(
                    f"{item.source} {getattr(item, 'kind', 'up')} {item.dev_eui}: {result['result']}"
                )

        sub = Subscriber(
            host=cfg.mqtt_host,
            port=cfg.mqtt_port,
            handle=on_item,
            username=cfg.mqtt_username,
            password=cfg.mqtt_password,
            topic=cfg.mqtt_topic,
            # Two consumers with one id would take the session from each other: default per host.
            client_id=cfg.mqtt_client_id or f"kumpel-fleet-{socket.gethostname()}",
            session_expiry_s=cfg.mqtt_session_expiry_s,
        )
        try:
            sub.start()
        except LnsError as exc:
            _fail(str(exc))
        console.print(
            f"subscribed to {cfg.mqtt_host}:{cfg.mqtt_port} {cfg.mqtt_topic} as client {sub.client_id}"
        )
        try:
            threading.Event().wait()
        except KeyboardInterrupt:
            sub.stop()


@app.command("sweep")
def sweep_cmd() -> None:
    """Run the periodic pass once: offline alerts, reminders, downlink retries, rollouts."""
    from fleet.services.sweep import sweep

    with _db() as (session, cfg, adapter):
        console.print_json(json.dumps(sweep(session, adapter, cfg)))


@token_app.command("create")
def token_create(
    role: str = typer.Option(..., help="admin | technician | viewer"),
    name: str = "",
    expires_days: int = typer.Option(90, help="days until it expires; 0: never (machine tokens)"),
) -> None:
    """Create an API token; it is printed once and stored only as a hash."""
    from fleet.services import tokens

    with _db() as (session, _, _a):
        try:
            row, token = tokens.create(session, name=name, role=role, expires_in_days=expires_days or None)
        except ValueError as exc:
            _fail(str(exc))
        session.commit()
        expiry = f"expires {row.expires_at.date().isoformat()}" if row.expires_at else "never expires"
        console.print(f"token {row.id} ({row.role}, {expiry}): [bold]{token}[/bold]")
        typer.echo(token, file=sys.stderr)


@devices_app.command("list")
def devices_list(
    group: str = "",
    status: str = "",
    provisioned: bool | None = typer.Option(
        None, "--provisioned/--unverified", help="only nodes that passed `kumpel node verify` / never did"
    ),
    limit: int = 200,
) -> None:
    from fleet.models import Device, Group, GroupMember, utcnow
    from fleet.services import verdict, verification

    with _db() as (session, _, _a):
        state = verdict.state_sql(utcnow())
        q = select(Device, state)
        if group:
            q = (
                q.join(GroupMember, col(GroupMember.device_id) == Device.id)
                .join(Group, col(Group.id) == GroupMember.group_id)
                .where(Group.name == group)
            )
        if status:
            q = q.where(state == status)
        if provisioned is not None:
            q = q.where(verification.provisioned_filter(provisioned))
        table = Table("DevEUI", "name", "street", "health", "last seen", "provisioned", title="devices")
        for d, st in session.exec(q.order_by(col(Device.dev_eui)).limit(limit)).all():
            table.add_row(
                d.dev_eui,
                d.name,
                d.street,
                f"[{STATUS_STYLE.get(st, '')}]{st}[/]",
                d.last_seen_at.isoformat(timespec="minutes") if d.last_seen_at else "never",
                d.provisioned_at.date().isoformat() if d.provisioned_at else "[yellow]not verified[/]",
            )
        console.print(table)


@devices_app.command("add")
def devices_add(
    dev_eui: str = typer.Option("", help="16 hex; generated when empty"),
    join_eui: str = "",
    name: str = "",
    street: str = "",
    bin_height_cm: int | None = None,
    group: list[str] = [],  # noqa: B006
    board: str = "devkit_rak3172",
) -> None:
    """Register one node; prints its AppKey once."""
    from fleet.services.provisioning import DeviceIn, ProvisioningError, create_device, registration

    with _db() as (session, cfg, adapter):
        try:
            data = DeviceIn(
                dev_eui=dev_eui or None,
                join_eui=join_eui or None,
                name=name,
                street=street,
                bin_height_cm=bin_height_cm,
                groups=group,
                board=board,
            )
            device, app_key = create_device(session, cfg, adapter, data)
        except (ProvisioningError, ValueError) as exc:
            _fail(str(exc))
        session.commit()
        console.print(
            f"created {device.dev_eui} (JoinEUI {device.join_eui}); AppKey, shown once: "
            f"[bold]{app_key}[/bold]"
        )
        console.print(registration(adapter, device), highlight=False)


@devices_app.command("import")
def devices_import(csv_file: Path) -> None:
    """Bulk import from CSV; a result per row."""
    from fleet.services.provisioning import ProvisioningError, import_csv

    with _db() as (session, cfg, adapter):
        try:
            results = import_csv(session, cfg, adapter, csv_file.read_text(encoding="utf-8-sig"))
        except (ProvisioningError, OSError, UnicodeDecodeError) as exc:
            _fail(str(exc))
        session.commit()
        table = Table("row", "DevEUI", "result", "detail", title=f"import {csv_file.name}")
        for r in results:
            style = {"created": "green", "updated": "cyan", "rejected": "red"}[r["result"]]
            detail = r.get("reason") or (f"AppKey {r['app_key']}" if r.get("app_key") else "")
            table.add_row(str(r["row"]), r["dev_eui"], f"[{style}]{r['result']}[/]", detail)
        console.print(table)
        if any(r["result"] == "rejected" for r in results):
            raise typer.Exit(1)


@devices_app.command("show")
def devices_show(dev_eui: str) -> None:
    _health(dev_eui)


@config_app.command("set")
def config_set(
    target: str = typer.Argument(..., help="a DevEUI, or group:<name>"),
    assignments: list[str] = typer.Argument(..., help="name=value ..."),
) -> None:
    """Set desired settings for a node (overrides) or a whole group; queues the config downlinks."""
    from fleet.models import Group
    from fleet.services import config as config_service
    from fleet.services import downlinks, provisioning

    values = {}
    for a in assignments:
        name, sep, value = a.partition("=")
        if not sep or not value.strip().lstrip("-").isdigit():
            _fail(f"{a!r}: expected name=<integer>")
        values[name.strip()] = int(value)
    with _db() as (session, cfg, adapter):
        try:
            if target.startswith("group:"):
                g = session.exec(select(Group).where(Group.name == target[6:])).first()
                if g is None:
                    _fail(f"no group {target[6:]!r}")
                g.config = {**(g.config or {}), **config_service.validate(values)}
                session.add(g)
                session.flush()
                devices = provisioning.members(session, g)
            else:
                devices = [_device(session, target)]
                config_service.set_overrides(session, devices[0], values)
                session.flush()
            queued = [dl for d in devices if (dl := config_service.reconcile(session, d, cfg))]
        except config_service.ConfigError as exc:
            _fail(str(exc))
        session.commit()
        sent = downlinks.dispatch(session, adapter, cfg)
        session.commit()
        console.print(f"{len(queued)} config downlink(s) queued; dispatch: {sent}")


@rollout_app.command("create")
def rollout_create(
    group: str, assignments: list[str], batch_size: int = 10, failure_threshold_pct: int = 20
) -> None:
    from fleet.models import Group
    from fleet.services import config as config_service
    from fleet.services import downlinks, rollout

    values = {a.partition("=")[0]: int(a.partition("=")[2]) for a in assignments if "=" in a}
    with _db() as (session, cfg, adapter):
        g = session.exec(select(Group).where(Group.name == group)).first()
        if g is None:
            _fail(f"no group {group!r}")
        try:
            ro = rollout.create(
                session, g, values, cfg, batch_size=batch_size, failure_threshold_pct=failure_threshold_pct
            )
        except (rollout.RolloutError, config_service.ConfigError) as exc:
            _fail(str(exc))
        session.commit()
        downlinks.dispatch(session, adapter, cfg)
        session.commit()
        _print_rollout(rollout.status(session, ro))


def _print_rollout(st: dict) -> None:
    console.print(
        f"rollout {st['id']} to {st['group']}: [bold]{st['state']}[/bold] batch {st['current_batch'] + 1}"
        f" {st['counts']} {st['halt_reason'] or ''}"
    )
    table = Table("DevEUI", "batch", "state", "version", "detail")
    for n in st["nodes"]:
        table.add_row(
            n["dev_eui"], str(n["batch"] + 1), n["state"], str(n["config_version"] or ""), n["detail"] or ""
        )
    console.print(table)


@rollout_app.command("show")
def rollout_show(rollout_id: int) -> None:
    from fleet.models import Rollout
    from fleet.services import rollout

    with _db() as (session, _, _a):
        ro = session.get(Rollout, rollout_id)
        if ro is None:
            _fail(f"no rollout {rollout_id}")
        _print_rollout(rollout.status(session, ro))


@rollout_app.command("resume")
def rollout_resume(rollout_id: int) -> None:
    _rollout_action(rollout_id, "resume")


@rollout_app.command("abort")
def rollout_abort(rollout_id: int) -> None:
    _rollout_action(rollout_id, "abort")


def _rollout_action(rollout_id: int, action: str) -> None:
    from fleet.models import Rollout
    from fleet.services import downlinks, rollout

    with _db() as (session, cfg, adapter):
        ro = session.get(Rollout, rollout_id)
        if ro is None:
            _fail(f"no rollout {rollout_id}")
        try:
            rollout.resume(session, ro, cfg) if action == "resume" else rollout.abort(session, ro)
        except rollout.RolloutError as exc:
            _fail(str(exc))
        session.commit()
        downlinks.dispatch(session, adapter, cfg)
        session.commit()
        _print_rollout(rollout.status(session, ro))


@app.command("health")
def health_cmd(dev_eui: str = typer.Argument("", help="one node; empty: the fleet summary")) -> None:
    """Fleet summary (worst nodes first) or one node's health with its reasons."""
    _health(dev_eui)


def _health(dev_eui: str) -> None:
    from fleet.services import health

    with _db() as (session, cfg, _a):
        if not dev_eui:
            s = health.fleet_summary(session)
            console.print(
                " ".join(f"[{STATUS_STYLE[k]}]{k} {v}[/]" for k, v in s["by_status"].items())
                + f"  open alerts {s['open_alerts']}"
            )
            table = Table("DevEUI", "name", "status", "reasons", "last seen", title="worst nodes")
            for w in s["worst"]:
                table.add_row(
                    w["dev_eui"],
                    w["name"],
                    f"[{STATUS_STYLE[w['status']]}]{w['status']}[/]",
                    "; ".join(r["message"] for r in w["reasons"]) or "",
                    w["last_seen_at"] or "never",
                )
            console.print(table)
            return
        h = health.node_health(session, _device(session, dev_eui), cfg)
        console.print(f"{h['dev_eui']} {h['name']}: [{STATUS_STYLE[h['status']]}]{h['status']}[/]")
        for r in h["reasons"]:
            console.print(f"  - [{STATUS_STYLE.get(r['severity'], '')}]{r['message']}[/]")
        table = Table("aspect", "value")
        c, b, r, p = h["connectivity"], h["battery"], h["radio"], h["packet_loss"]
        table.add_row(
            "connectivity",
            f"{c['state']}, last seen {c['last_seen_at'] or 'never'}, expected every "
            f"{c['expected_interval_s'] // 60} min",
        )
        table.add_row(
            "battery", f"{b['mv']} mV, trend {b['trend_mv_per_day']} mV/day, {b['days_left']} days left"
        )
        table.add_row(
            "radio", f"RSSI {r['rssi']} dBm, SNR {r['snr']} dB, {r['gateways']} gateway(s), SF {r['sf']}"
        )
        table.add_row(
            "packet loss", f"{p['loss_pct']} % ({p['received']}/{p['expected']}), rejoins {p['rejoins']}"
        )
        table.add_row("reboots (14 d)", json.dumps(h["reboots"]["by_cause"]))
        table.add_row(
            "config",
            f"desired v{h['config']['desired_version']}, applied v{h['config']['reported_version']}"
            f", pending {h['config']['pending']}, rejected {h['config']['rejected']}",
        )
        table.add_row("last reading", json.dumps(h["last_reading"]))
        table.add_row("provisioning", _provisioning_line(h["provisioning"]))
        console.print(table)


def _provisioning_line(p: dict) -> str:
    last = p["last_verification"]
    head = f"provisioned since {p['provisioned_at'][:16]}" if p["provisioned_at"] else "not verified yet"
    if last is None:
        return head
    verdict = "passed" if last["ok"] else "failed: " + ", ".join(last["failed"])
    return f"{head}; last verify {last['at'][:16]} {verdict}"


from fleet.cli_users import users_app  # noqa: E402 (registered last: it uses this module's helpers)

app.add_typer(users_app, name="user")
