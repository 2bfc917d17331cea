"""Scenario files: the simulated world described in TOML, checked key by key.

A scenario names groups of nodes; each group describes its bins, climate, battery, radio coverage and
faults. Every error names the file and the full key path, because a scenario is written by hand and a
bare KeyError would send an engineer hunting.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from protocols import hardware

SCENARIO_DIR = Path(__file__).resolve().parent / "scenarios"
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
FAULT_KINDS = {
    # scenario fault kind -> (world.faults key, value) as the simulated devices read them (CONTRACTS 2)
    "ultrasonic_unplugged": ("ultrasonic", "unplugged"),
    "ultrasonic_garbage": ("ultrasonic", "garbage"),
    "ultrasonic_crc": ("ultrasonic", "crc"),
    "ultrasonic_noisy": ("ultrasonic", "noisy"),
    "ultrasonic_outliers": ("ultrasonic", "outliers"),
    "climate_garbage": ("climate", "garbage"),
    "climate_crc": ("climate", "crc"),
    "climate_nack": ("climate", "nack"),
    "modem_silent": ("modem", "silent"),
    "modem_busy": ("modem", "busy"),
    "brownout": ("supply", "sag"),  # host-side: the battery voltage sags to 2.9 V (see physics.py)
    "power_cut_flash_write": ("power", "cut_during_flash_write"),
}
ULTRASONIC_KINDS = hardware.ULTRASONIC  # the names' one home
CLIMATE_KINDS = hardware.CLIMATE
BOARDS = hardware.BOARDS  # native-LoRaWAN (SX1262) boards included


class ScenarioError(ValueError):
    """A scenario file that cannot be run; the message names the file and the key."""


@dataclass(frozen=True)
class Window:
    """A span of simulated hours since the scenario start; `end_h` None means until the end."""

    start_h: float
    end_h: float | None = None

    def contains(self, hour: float) -> bool:
        return hour >= self.start_h and (self.end_h is None or hour < self.end_h)


@dataclass(frozen=True)
class BinSpec:
    height_cm: float = 120.0
    fill_pct_per_hour: tuple[float, ...] = (0.5,) * 24  # by hour of day, local time of the scenario
    weekday_factor: tuple[float, ...] = (1.0,) * 7  # Monday first
    empty_weekdays: tuple[int, ...] = ()  # 0 = Monday
    empty_hour: float = 7.0
    noise_cm: float = 1.0
    initial_fill_pct: float = 10.0
    lid_open: tuple[Window, ...] = ()


@dataclass(frozen=True)
class FireSpec:
    at_h: float
    duration_h: float = 1.0
    peak_c: float = 90.0


@dataclass(frozen=True)
class ClimateSpec:
    temp_mean_c: float = 12.0
    temp_amplitude_c: float = 5.0
    temp_peak_hour: float = 15.0
    humidity_mean_pct: float = 70.0
    humidity_amplitude_pct: float = 15.0
    pressure_hpa: float = 1013.0
    fire: FireSpec | None = None


@dataclass(frozen=True)
class BatterySpec:
    capacity_mah: float = 3400.0
    initial_pct: float = 100.0
    self_discharge_pct_per_month: float = 2.0


@dataclass(frozen=True)
class GatewaySpec:
    gateway_id: str
    rssi: float
    snr: float


@dataclass(frozen=True)
class RadioSpec:
    gateways: tuple[GatewaySpec, ...] = (GatewaySpec("0016c001ff10a235", -95.0, 7.0),)
    packet_loss: float = 0.0
    dead_zone: tuple[Window, ...] = ()


@dataclass(frozen=True)
class FaultSpec:
    kind: str
    window: Window

    @property
    def world_key(self) -> tuple[str, str]:
        return FAULT_KINDS[self.kind]


@dataclass(frozen=True)
class NodeSpec:
    """One simulated node, fully resolved from its group."""

    dev_eui: str
    join_eui: str
    app_key: str
    name: str
    group: str
    board: str
    ultrasonic: str | None
    climate: str | None
    config: dict[str, int]
    bin: BinSpec
    climate_model: ClimateSpec
    battery: BatterySpec
    radio: RadioSpec
    faults: tuple[FaultSpec, ...] = ()

    def provision(self) -> dict[str, Any]:
        """provision.json as the technician tool writes it (CONTRACTS 3)."""
        return {
            "v": 1,
            "dev_eui": self.dev_eui,
            "join_eui": self.join_eui,
            "app_key": self.app_key,
            "band": 4,
            "board": self.board,
            "ultrasonic": self.ultrasonic,
            "climate": self.climate,
            "name": self.name,
        }


@dataclass(frozen=True)
class Scenario:
    name: str
    source: str
    start: datetime
    days: float
    seed: int
    nodes: tuple[NodeSpec, ...] = field(default_factory=tuple)

    def with_nodes(self, count: int) -> Scenario:
        """The scenario scaled to `count` nodes: groups repeat in order, each copy with a new DevEUI."""
        if count < 1:
            raise ScenarioError(f"{self.source}: --nodes must be at least 1, got {count}")
        if not self.nodes:
            raise ScenarioError(f"{self.source}: has no nodes to scale")
        out = []
        for i in range(count):
            base = self.nodes[i % len(self.nodes)]
            if i < len(self.nodes):
                out.append(base)
                continue
            dev_eui = f"{(int(base.dev_eui, 16) + 0x10000 * (i // len(self.nodes))) & (2**64 - 1):016x}"
            out.append(
                replace(
                    base,
                    dev_eui=dev_eui,
                    app_key=_derive_key(dev_eui, self.seed),
                    name=f"{base.name}-x{i // len(self.nodes)}",
                )
            )
        return replace(self, nodes=tuple(out))


# ---------------------------------------------------------------------------------------------------------
# Reading and checking


def load(path: str | Path) -> Scenario:
    """Read and check a scenario file; a bare name looks in the shipped scenarios folder."""
    p = Path(path)
    if not p.exists() and not p.suffix and (SCENARIO_DIR / f"{p.name}.toml").exists():
        p = SCENARIO_DIR / f"{p.name}.toml"
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as e:
        raise ScenarioError(f"{p}: cannot read scenario file: {e.strerror or e}") from e
    return loads(text, source=p.name)


def loads(text: str, source: str = "scenario.toml") -> Scenario:
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise ScenarioError(f"{source}: not valid TOML: {e}") from e
    return _Checker(source).scenario(doc)


def _derive_key(dev_eui: str, seed: int) -> str:
    """A per-device AppKey that is stable for a scenario, so reruns keep the same identities."""
    import hashlib

    return hashlib.sha256(f"kumpel-sim:{seed}:{dev_eui}".encode()).hexdigest()[:32]


class _Checker:
    def __init__(self, source: str):
        self.source = source

    def fail(self, path: str, message: str) -> ScenarioError:
        return ScenarioError(f"{self.source}: {path}: {message}")

    # small typed getters ------------------------------------------------------------------------------
    def keys(self, table: Any, path: str, allowed: tuple[str, ...]) -> dict:
        if not isinstance(table, dict):
            raise self.fail(path, f"expected a table, got {table!r}")
        for key in table:
            if key not in allowed:
                raise self.fail(
                    f"{path}.{key}" if path else key, f"unknown key (known here: {', '.join(allowed)})"
                )
        return table

    def number(
        self,
        table: dict,
        key: str,
        path: str,
        default: float | None,
        lo: float | None = None,
        hi: float | None = None,
    ) -> float:
        value = table.get(key, default)
        where = f"{path}.{key}" if path else key
        if value is None:
            raise self.fail(where, "missing (required)")
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise self.fail(where, f"expected a number, got {value!r}")
        if (lo is not None and value < lo) or (hi is not None and value > hi):
            raise self.fail(where, f"{value} out of range {lo}..{hi}")
        return float(value)

    def integer(
        self,
        table: dict,
        key: str,
        path: str,
        default: int | None,
        lo: int | None = None,
        hi: int | None = None,
    ) -> int:
        value = table.get(key, default)
        where = f"{path}.{key}" if path else key
        if isinstance(value, bool) or not isinstance(value, int):
            raise self.fail(where, f"expected an integer, got {value!r}")
        if (lo is not None and value < lo) or (hi is not None and value > hi):
            raise self.fail(where, f"{value} out of range {lo}..{hi}")
        return value

    def text(
        self,
        table: dict,
        key: str,
        path: str,
        default: str | None,
        choices: tuple[str, ...] | None = None,
        allow_none: bool = False,
    ) -> str | None:
        value = table.get(key, default)
        where = f"{path}.{key}" if path else key
        if allow_none and value in (None, "none", ""):
            return None
        if not isinstance(value, str):
            raise self.fail(where, f"expected a string, got {value!r}")
        if choices is not None and value not in choices:
            raise self.fail(where, f"{value!r} is not one of {', '.join(choices)}")
        return value

    def hex_id(self, table: dict, key: str, path: str, default: str | None, digits: int) -> str | None:
        value = table.get(key, default)
        if value is None:
            return None
        where = f"{path}.{key}"
        if (
            not isinstance(value, str)
            or len(value) != digits
            or any(c not in "0123456789abcdefABCDEF" for c in value)
        ):
            raise self.fail(where, f"expected {digits} hex digits, got {value!r}")
        return value.lower()

    def per_hour(self, table: dict, key: str, path: str, default: tuple[float, ...], n: int) -> tuple:
        value = table.get(key, default)
        where = f"{path}.{key}"
        if isinstance(value, int | float) and not isinstance(value, bool):
            return (float(value),) * n
        if not isinstance(value, list | tuple) or len(value) != n:
            raise self.fail(where, f"expected a number or a list of {n} numbers, got {value!r}")
        out = []
        for i, v in enumerate(value):
            if isinstance(v, bool) or not isinstance(v, int | float) or v < 0:
                raise self.fail(f"{where}[{i}]", f"expected a number >= 0, got {v!r}")
            out.append(float(v))
        return tuple(out)

    def windows(self, table: dict, key: str, path: str) -> tuple[Window, ...]:
        value = table.get(key, [])
        where = f"{path}.{key}"
        if value is True:
            return (Window(0.0, None),)
        if value is False:
            return ()
        if not isinstance(value, list):
            raise self.fail(where, f"expected true/false or a list of {{from_h, to_h}} tables, got {value!r}")
        out = []
        for i, w in enumerate(value):
            wp = f"{where}[{i}]"
            self.keys(w, wp, ("from_h", "to_h"))
            start = self.number(w, "from_h", wp, None, 0)
            end = w.get("to_h")
            if end is not None:
                end = self.number(w, "to_h", wp, None, start)
            out.append(Window(start, end))
        return tuple(out)

    # sections -----------------------------------------------------------------------------------------
    def scenario(self, doc: dict) -> Scenario:
        self.keys(doc, "", ("scenario", "defaults", "nodes"))
        head = self.keys(doc.get("scenario", {}), "scenario", ("name", "start", "days", "seed"))
        name = self.text(head, "name", "scenario", Path(self.source).stem)
        start_raw = head.get("start", "2026-06-01T00:00:00Z")
        if isinstance(start_raw, datetime):
            start = start_raw if start_raw.tzinfo else start_raw.replace(tzinfo=UTC)
        elif isinstance(start_raw, str):
            try:
                start = datetime.fromisoformat(start_raw.replace("Z", "+00:00"))
            except ValueError:
                raise self.fail("scenario.start", f"expected an ISO date-time, got {start_raw!r}") from None
            start = start if start.tzinfo else start.replace(tzinfo=UTC)
        else:
            raise self.fail("scenario.start", f"expected an ISO date-time, got {start_raw!r}")
        days = self.number(head, "days", "scenario", 1.0, 0.001, 3650)
        seed = self.integer(head, "seed", "scenario", 1)
        defaults = doc.get("defaults", {})
        self.keys(defaults, "defaults", _GROUP_KEYS)
        groups = doc.get("nodes")
        if not isinstance(groups, dict) or not groups:
            raise self.fail("nodes", "missing: add at least one group, e.g. [nodes.bins] with count = 5")
        nodes: list[NodeSpec] = []
        seen: dict[str, str] = {}
        for gi, (gname, group) in enumerate(groups.items()):
            path = f"nodes.{gname}"
            self.keys(group, path, _GROUP_KEYS)
            merged = _merge(defaults, group)
            for node in self.group(gname, gi, merged, path, seed):
                if node.dev_eui in seen:
                    raise self.fail(
                        f"{path}.dev_eui_start",
                        f"DevEUI {node.dev_eui} already used by group {seen[node.dev_eui]}",
                    )
                seen[node.dev_eui] = gname
                nodes.append(node)
        return Scenario(
            name=name or "scenario", source=self.source, start=start, days=days, seed=seed, nodes=tuple(nodes)
        )

    def group(self, gname: str, gi: int, g: dict, path: str, seed: int) -> list[NodeSpec]:
        count = self.integer(g, "count", path, 1, 1, 100_000)
        dev_eui_start = self.hex_id(g, "dev_eui_start", path, f"70b3d57ed005{gi:02x}00", 16)
        join_eui = self.hex_id(g, "join_eui", path, "0000000000000000", 16)
        app_key = self.hex_id(g, "app_key", path, None, 32)
        prefix = self.text(g, "name_prefix", path, f"{gname}-")
        board = self.text(g, "board", path, "devkit_rak3172", BOARDS)
        ultrasonic = self.text(g, "ultrasonic", path, "a02yyuw", ULTRASONIC_KINDS, allow_none=True)
        climate = self.text(g, "climate_sensor", path, "shtc3", CLIMATE_KINDS, allow_none=True)
        config = self.config(g.get("config", {}), f"{path}.config")
        bin_spec = self.bin(g.get("bin", {}), f"{path}.bin")
        if "bin_height_cm" not in config:
            config["bin_height_cm"] = int(round(bin_spec.height_cm))
        climate_model = self.climate(g.get("climate", {}), f"{path}.climate")
        battery = self.battery(g.get("battery", {}), f"{path}.battery")
        radio = self.radio(g.get("radio", {}), f"{path}.radio")
        faults = self.faults(g.get("faults", []), f"{path}.faults")
        base = int(dev_eui_start, 16)
        out = []
        for i in range(count):
            dev_eui = f"{(base + i) & (2**64 - 1):016x}"
            out.append(
                NodeSpec(
                    dev_eui=dev_eui,
                    join_eui=join_eui or "0000000000000000",
                    app_key=app_key or _derive_key(dev_eui, seed),
                    name=f"{prefix}{i + 1:03d}",
                    group=gname,
                    board=board or "devkit_rak3172",
                    ultrasonic=ultrasonic,
                    climate=climate,
                    config=dict(config),
                    bin=bin_spec,
                    climate_model=climate_model,
                    battery=battery,
                    radio=radio,
                    faults=faults,
                )
            )
        return out

    def config(self, table: Any, path: str) -> dict[str, int]:
        """Initial node settings; names and ranges come from the wire contract's settings table."""
        if not isinstance(table, dict):
            raise self.fail(path, f"expected a table, got {table!r}")
        try:
            from protocols import settings as wire_settings
        except ImportError:  # the codec not landed yet: accept integers, the firmware checks them
            wire_settings = None
        out = {}
        for key, value in table.items():
            where = f"{path}.{key}"
            if isinstance(value, bool):
                value = int(value)
            if not isinstance(value, int):
                raise self.fail(where, f"expected an integer, got {value!r}")
            if wire_settings is not None:
                if key not in wire_settings.BY_NAME:
                    raise self.fail(where, f"unknown setting (known: {', '.join(wire_settings.BY_NAME)})")
                status = wire_settings.check(key, value)
                if status != "ok":
                    raise self.fail(where, f"{value} rejected by the settings table: {status}")
            out[key] = value
        return out

    def bin(self, t: Any, path: str) -> BinSpec:
        self.keys(
            t,
            path,
            (
                "height_cm",
                "fill_pct_per_hour",
                "weekday_factor",
                "empty_weekdays",
                "empty_hour",
                "noise_cm",
                "initial_fill_pct",
                "lid_open",
            ),
        )
        days_raw = t.get("empty_weekdays", [])
        if not isinstance(days_raw, list):
            raise self.fail(
                f"{path}.empty_weekdays", f'expected a list like ["mon", "thu"], got {days_raw!r}'
            )
        empty_days = []
        for i, d in enumerate(days_raw):
            if not isinstance(d, str) or d.lower()[:3] not in WEEKDAYS:
                raise self.fail(
                    f"{path}.empty_weekdays[{i}]", f"expected one of {', '.join(WEEKDAYS)}, got {d!r}"
                )
            empty_days.append(WEEKDAYS.index(d.lower()[:3]))
        return BinSpec(
            height_cm=self.number(t, "height_cm", path, 120, 20, 1000),
            fill_pct_per_hour=self.per_hour(t, "fill_pct_per_hour", path, (0.5,) * 24, 24),
            weekday_factor=self.per_hour(t, "weekday_factor", path, (1.0,) * 7, 7),
            empty_weekdays=tuple(empty_days),
            empty_hour=self.number(t, "empty_hour", path, 7, 0, 23.99),
            noise_cm=self.number(t, "noise_cm", path, 1.0, 0, 100),
            initial_fill_pct=self.number(t, "initial_fill_pct", path, 10, 0, 100),
            lid_open=self.windows(t, "lid_open", path),
        )

    def climate(self, t: Any, path: str) -> ClimateSpec:
        self.keys(
            t,
            path,
            (
                "temp_mean_c",
                "temp_amplitude_c",
                "temp_peak_hour",
                "humidity_mean_pct",
                "humidity_amplitude_pct",
                "pressure_hpa",
                "fire",
            ),
        )
        fire = None
        if "fire" in t:
            fp = f"{path}.fire"
            self.keys(t["fire"], fp, ("at_h", "duration_h", "peak_c"))
            fire = FireSpec(
                at_h=self.number(t["fire"], "at_h", fp, None, 0),
                duration_h=self.number(t["fire"], "duration_h", fp, 1.0, 0.01),
                peak_c=self.number(t["fire"], "peak_c", fp, 90, -40, 85),
            )
        return ClimateSpec(
            temp_mean_c=self.number(t, "temp_mean_c", path, 12, -40, 85),
            temp_amplitude_c=self.number(t, "temp_amplitude_c", path, 5, 0, 40),
            temp_peak_hour=self.number(t, "temp_peak_hour", path, 15, 0, 24),
            humidity_mean_pct=self.number(t, "humidity_mean_pct", path, 70, 0, 100),
            humidity_amplitude_pct=self.number(t, "humidity_amplitude_pct", path, 15, 0, 50),
            pressure_hpa=self.number(t, "pressure_hpa", path, 1013, 300, 1100),
            fire=fire,
        )

    def battery(self, t: Any, path: str) -> BatterySpec:
        self.keys(t, path, ("capacity_mah", "initial_pct", "self_discharge_pct_per_month"))
        return BatterySpec(
            capacity_mah=self.number(t, "capacity_mah", path, 3400, 1, 1_000_000),
            initial_pct=self.number(t, "initial_pct", path, 100, 0, 100),
            self_discharge_pct_per_month=self.number(t, "self_discharge_pct_per_month", path, 2, 0, 100),
        )

    def radio(self, t: Any, path: str) -> RadioSpec:
        self.keys(t, path, ("sf", "rssi", "snr", "gateways", "packet_loss", "dead_zone"))
        sf = t.get("sf")
        if sf is not None:
            sf = self.integer(t, "sf", path, None, 7, 12)
        # Typical link budget at the edge of each SF, used when rssi/snr are absent.
        rssi = self.number(t, "rssi", path, -90.0 - 6 * ((sf or 7) - 7), -140, 0)
        snr = self.number(
            t, "snr", path, {7: 8.0, 8: 5.0, 9: 1.0, 10: -4.0, 11: -8.0, 12: -12.0}[sf or 7], -25, 20
        )
        gw_raw = t.get("gateways", 1)
        gateways: list[GatewaySpec] = []
        if isinstance(gw_raw, int) and not isinstance(gw_raw, bool):
            if not 0 <= gw_raw <= 16:
                raise self.fail(f"{path}.gateways", f"{gw_raw} out of range 0..16")
            for i in range(gw_raw):  # each farther gateway hears the node 6 dB weaker
                gateways.append(GatewaySpec(f"0016c001ff10a{235 + i:03x}", rssi - 6 * i, snr - 3 * i))
        elif isinstance(gw_raw, list):
            for i, g in enumerate(gw_raw):
                gp = f"{path}.gateways[{i}]"
                self.keys(g, gp, ("gateway_id", "rssi", "snr"))
                gateways.append(
                    GatewaySpec(
                        self.hex_id(g, "gateway_id", gp, f"0016c001ff10b{i:03x}", 16) or "",
                        self.number(g, "rssi", gp, rssi, -140, 0),
                        self.number(g, "snr", gp, snr, -25, 20),
                    )
                )
        else:
            raise self.fail(
                f"{path}.gateways", f"expected a count or a list of gateway tables, got {gw_raw!r}"
            )
        return RadioSpec(
            gateways=tuple(gateways),
            packet_loss=self.number(t, "packet_loss", path, 0.0, 0, 1),
            dead_zone=self.windows(t, "dead_zone", path),
        )

    def faults(self, value: Any, path: str) -> tuple[FaultSpec, ...]:
        if not isinstance(value, list):
            raise self.fail(path, f"expected a list of [[...faults]] tables, got {value!r}")
        out = []
        for i, f in enumerate(value):
            fp = f"{path}[{i}]"
            self.keys(f, fp, ("kind", "at_h", "duration_h"))
            kind = self.text(f, "kind", fp, None, tuple(FAULT_KINDS)) or ""
            at = self.number(f, "at_h", fp, None, 0)
            dur = f.get("duration_h")
            end = None if dur is None else at + self.number(f, "duration_h", fp, None, 0.001)
            out.append(FaultSpec(kind=kind, window=Window(at, end)))
        return tuple(out)


_GROUP_KEYS = (
    "count",
    "dev_eui_start",
    "join_eui",
    "app_key",
    "name_prefix",
    "board",
    "ultrasonic",
    "climate_sensor",
    "config",
    "bin",
    "climate",
    "battery",
    "radio",
    "faults",
)


def _merge(defaults: dict, group: dict) -> dict:
    """Group keys over defaults; sub-tables merge one level deep so a group can change one bin figure."""
    out = dict(defaults)
    for key, value in group.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = {**out[key], **value}
        else:
            out[key] = value
    return out
