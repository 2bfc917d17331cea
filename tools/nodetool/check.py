"""Check: one node's health from the fleet, rendered for a terminal in the field (phone hotspot, laptop).

The fleet computes health (fleet.services.health.node_health over GET /devices/{eui}/health); this module
only lays it out: the verdict first, then why, then the figures a technician compares on site.
"""

from __future__ import annotations

from rich.console import Group
from rich.panel import Panel
from rich.table import Table

from tools.nodetool.verify import when

STATUS_STYLE = {"ok": "green", "warning": "yellow", "critical": "red", "offline": "red", "unknown": "dim"}


def _fmt(value: object, unit: str = "") -> str:
    return "-" if value is None else f"{value}{unit}"


def provisioned_text(provisioning: dict) -> str:
    """Provisioned since when, or "not verified yet"; plus the latest verify run when it failed."""
    at = provisioning.get("provisioned_at")
    last = provisioning.get("last_verification")
    text = f"[green]yes[/], since {when(at)}" if at else "[yellow]not verified yet[/]"
    if last and not last.get("ok"):
        text += f"; last verify {when(last['at'])} [red]FAILED[/] ({', '.join(last.get('failed', []))})"
    elif last and not at:
        text += f"; last verify {when(last['at'])} passed, before the keys changed"
    return text


def render(health: dict) -> Panel:
    status = health.get("status", "unknown")
    style = STATUS_STYLE.get(status, "white")
    reasons = Table.grid(padding=(0, 1))
    for r in health.get("reasons", []):
        reasons.add_row(
            f"[{STATUS_STYLE.get(r.get('severity'), 'white')}]{r.get('severity')}[/]", r.get("message", "")
        )
    if not health.get("reasons"):
        reasons.add_row("[green]no problems[/]", "")
    conn = health.get("connectivity", {})
    bat = health.get("battery", {})
    radio = health.get("radio", {})
    loss = health.get("packet_loss", {})
    cfg = health.get("config", {})
    last = health.get("last_reading") or {}
    figures = Table(show_header=False, box=None, padding=(0, 2))
    figures.add_column(style="bold")
    figures.add_column()
    figures.add_row("last seen", f"{_fmt(conn.get('last_seen_at'))} ({conn.get('state', '-')})")
    figures.add_row(
        "battery",
        f"{_fmt(bat.get('mv'), ' mV')}, trend {_fmt(bat.get('trend_mv_per_day'), ' mV/day')}, "
        f"{_fmt(bat.get('days_left'), ' days left')}",
    )
    figures.add_row(
        "radio",
        f"RSSI {_fmt(radio.get('rssi'), ' dBm')}, SNR {_fmt(radio.get('snr'), ' dB')}, "
        f"{radio.get('gateways', 0)} gateway(s), SF {_fmt(radio.get('sf'))}",
    )
    figures.add_row(
        "packet loss", f"{_fmt(loss.get('loss_pct'), ' %')} of {_fmt(loss.get('expected'))} expected"
    )
    figures.add_row(
        "config",
        f"desired v{cfg.get('desired_version', 0)}, applied v{cfg.get('reported_version', 0)}"
        + (" [yellow](drift)[/]" if cfg.get("drift") else ""),
    )
    if last:
        figures.add_row(
            "last reading",
            f"{_fmt(last.get('distance_cm'), ' cm')}, fill {_fmt(last.get('fill_pct'), ' %')}, "
            f"{_fmt(last.get('temperature_c'), ' °C')}",
        )
    figures.add_row("open alerts", str(health.get("open_alerts", 0)))
    figures.add_row("provisioned", provisioned_text(health.get("provisioning") or {}))
    eui = health.get("dev_eui")
    title = f"{health['name']} ({eui})" if health.get("name") else str(eui)
    return Panel(
        Group(f"[bold {style}]{status.upper()}[/]", reasons, "", figures), title=title, border_style=style
    )
