"""Energy model of a Kumpel node: what one wake cycle costs, and how long a battery lasts.

One source of truth for the currents: the emulator drains its simulated battery with `cycle_mah()` from
the durations the real firmware spent (tools/emulator/physics.py), and the battery-life table of
firmware/README.md comes from `life_table()` with durations estimated here from named inputs. Every input
is an `Input` with a best / typical / worst value and where the figure comes from: a datasheet (with the
section), a measurement (who, how) or a guess (say so). `kumpel energy` prints the inputs and the table.

A new term (e.g. the leakage of a pin released in deep sleep) joins as a named Input here and as a keyword
of `cycle_mah()` (`extra_sleep_ua`), so the model and the emulator keep counting the same things.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

import typer

CASES = ("best", "typical", "worst")
MS_PER_DAY = 86_400_000
MAS_PER_MAH = 3_600_000.0  # mA x ms in one mAh


@dataclass(frozen=True)
class Input:
    name: str
    unit: str
    best: float
    typical: float
    worst: float
    source: str  # "datasheet: ...", "measured: ...", "guess: ..." (the first word is the kind)

    def value(self, case: str) -> float:
        return float(getattr(self, case))

    @property
    def kind(self) -> str:
        return self.source.split(":", 1)[0]


INPUTS: tuple[Input, ...] = (
    # -- asleep (between wake cycles) ----------------------------------------------------------------------
    Input(
        "esp32_deep_sleep_ua",
        "uA",
        10,
        10,
        25,
        "datasheet: ESP32 Series Datasheet, 'Power Consumption by Power Modes' (Deep-sleep, RTC timer + RTC "
        "memory: 10 uA); worst = a module whose flash/PSRAM or RTC peripherals stay powered (guess)",
    ),
    Input(
        "rak3172_sleep_ua",
        "uA",
        1.69,
        1.69,
        10,
        "datasheet: RAK3172 WisDuo datasheet, sleep current 1.69 uA (quoted on RAK forum t/16585); worst = "
        "RUI3's default STOP1 level instead of level 2 (rui3-at.md: level 2 < 2 uA; STOP1 figure a guess)",
    ),
    Input(
        "divider_ua",
        "uA",
        1.3,
        1.5,
        1.7,
        "datasheet: hardware.md battery divider 1.5 MOhm + 1 MOhm: 3.3 / 3.7 / 4.2 V over 2.5 MOhm",
    ),
    Input(
        "regulator_iq_ua",
        "uA",
        1,
        5,
        50,
        "guess: 3.3 V LDO quiescent current on the base board (1 uA nano-power LDO ... 50 uA for a generic "
        "one; an AMS1117 DevKit draws mA and is for the bench only)",
    ),
    Input(
        "sensor_switch_off_ua",
        "uA",
        0,
        0.5,
        5,
        "guess: off-state leakage of the switched sensor supply (3V3_S / high-side switch)",
    ),
    Input(
        "pin_leak_ua",
        "uA",
        0,
        0,
        40,
        "measured: issue 11 section 2 - a released modem NRST pin pulled down at reset sits at ~1.7 V and "
        "draws ~40 uA; 0 when the pads are held (helper i11 fixes the holds and adds the term to the sim)",
    ),
    # -- awake ---------------------------------------------------------------------------------------------
    Input(
        "esp32_active_ma",
        "mA",
        27,
        35,
        44,
        "datasheet: ESP32 Series Datasheet, 'Power Consumption by Power Modes', Modem-sleep at 160 MHz "
        "(radio off, CPU running): 27-44 mA; typical mid-range",
    ),
    Input(
        "esp32_light_sleep_ma",
        "mA",
        0.8,
        0.8,
        2,
        "datasheet: ESP32 Series Datasheet, 'Power Consumption by Power Modes', Light-sleep 0.8 mA; worst "
        "with the sensor UART and RTC peripherals kept clocked (guess)",
    ),
    Input(
        "nap_ms_per_frame",
        "ms",
        80,
        80,
        0,
        "measured: the A02YYUW driver naps 80 ms in light sleep before each frame (node/sensors/a02yyuw.py); "
        "worst = a port without machine.lightsleep (polls awake)",
    ),
    Input(
        "boot_ms",
        "ms",
        250,
        420,
        600,
        "measured: ~420 ms from reset to a trivial main.py going back to sleep (measured by others, "
        "issue 11); best = bootloader image validation skipped on deep-sleep wake (guess)",
    ),
    Input(
        "import_ms_per_module",
        "ms",
        0.5,
        4,
        12,
        "guess: loading one pre-compiled .mpy module from the ESP32's littlefs (best: frozen into the image; "
        "worst: compiled from .py source on the device). The emulator charges this per module (simboot)",
    ),
    Input(
        "modules_per_cycle",
        "modules",
        10,
        24,
        31,
        "measured: a quiet cycle loads 31 firmware modules in the emulator (trace 'imports'); the sensor "
        "drivers load while the ranger starts up and cost no extra time, so 24 count (96 ms at 4 ms); "
        "worst: all of them",
    ),
    Input(
        "sensor_ma",
        "mA",
        2,
        8,
        12,
        "datasheet: DFRobot A02YYUW (SEN0311) wiki, average current <= 8 mA; + SHTC3 < 1 mA while measuring "
        "(Sensirion SHTC3 datasheet, 'Electrical Specifications'); best = RAK12007 (guess)",
    ),
    Input(
        "a02yyuw_frame_ms",
        "ms",
        100,
        100,
        300,
        "datasheet: DFRobot A02YYUW wiki, response time 100 ms (processed output 100-300 ms per frame, "
        "issue 11); the emulator's A02YYUW streams every 100 ms",
    ),
    Input(
        "ultrasonic_frames",
        "frames",
        3,
        3,
        5,
        "measured: frames the firmware reads per measurement - 3 when the first three agree, 5 otherwise "
        "(node/sensors/ultrasonic.py)",
    ),
    Input(
        "sensor_overhead_ms",
        "ms",
        20,
        25,
        120,
        "measured: emulator - sensor supply on 323 ms for 3 frames of 100 ms (warm-up 20 ms; the SHTC3 "
        "conversion and the driver imports overlap the ranger's start-up); worst: a BME280 and a slow start",
    ),
    Input(
        "cpu_work_ms",
        "ms",
        20,
        40,
        100,
        "guess: Python work of a cycle on a 160 MHz ESP32 besides imports (RTC restore, decide, encode); "
        "the emulator runs it in zero simulated time (a model-only term: ~2 % of the typical load)",
    ),
    # -- radio ---------------------------------------------------------------------------------------------
    Input(
        "rak3172_tx_ma",
        "mA",
        45,
        90,
        115,
        "measured: RAK forum t/7754 (RUI3, RAK3172): TX 46.6 mA at 0 dBm, 114.6 mA at 20 dBm; typical "
        "14 dBm interpolated; best = SX126x datasheet figure for an optimised +14 dBm PA",
    ),
    Input(
        "rak3172_rx_ma",
        "mA",
        5.22,
        8.4,
        10,
        "datasheet: RAK3172 datasheet RX 5.22 mA (minimum); measured 8.4 mA under RUI3 (RAK forum t/7754)",
    ),
    Input(
        "rx_window_ms",
        "ms",
        100,
        300,
        600,
        "guess: time the modem's receiver is open per receive window at SF12 (preamble detection "
        "timeout of a few symbols of 32.8 ms; two windows per uplink)",
    ),
    Input(
        "uplink_wait_ms",
        "ms",
        2100,
        2100,
        2400,
        "datasheet: LoRaWAN RP002 EU868 RECEIVE_DELAY1 1 s / RECEIVE_DELAY2 2 s after the uplink, then the "
        "RX2 window; the ESP32 waits awake for +EVT:TX_DONE (measured 2.0-2.1 s in the emulator)",
    ),
    Input(
        "uplink_wait_light_fraction",
        "fraction",
        0.9,
        0,
        0,
        "measured: today's RAK3172 driver (node/rui3.py) polls the UART awake through the time on air and "
        "both receive windows; best = a driver that naps in light sleep until RX2 has closed and then asks "
        "AT+RECV=? (bytes arriving in light sleep are lost, so it cannot wait for the +EVT lines)",
    ),
    Input(
        "at_ms_per_uplink",
        "ms",
        20,
        40,
        80,
        "measured: emulator - AT+SEND and AT+RECV=? exchanges at 115200 Bd plus the modem's answer delay",
    ),
    Input(
        "sf",
        "",
        7,
        12,
        12,
        "guess: spreading factor of the uplinks (ADR in good coverage: SF7; bin sensors underground or in "
        "metal bins often end at SF12, the worst case the firmware figures use)",
    ),
    Input(
        "delta_bits_per_reading",
        "bits",
        6,
        11,
        25,
        "datasheet: protocols/SPEC.md airtime arithmetic - typical deltas need Wd 4 + Wt 4 + Wh 3 = 11 bits "
        "a reading after a 71-bit header (16 readings = 30 bytes); best: a still bin; worst: a noisy one",
    ),
    Input(
        "early_uplinks_per_day",
        "uplinks",
        0.3,
        1,
        3,
        "measured: emulator district scenario - batches sent before batch_size because the fill moved "
        "(emptying, a fast-filling bin); alarms are part of it",
    ),
    # -- batteries -----------------------------------------------------------------------------------------
    Input(
        "li_ion_self_discharge_pct_month",
        "%/month",
        0.4,
        1.0,
        3.0,
        "measured: candlepowerforums 'Li-Ion Self Discharge Rate Test' (unprotected 18650 at 4.0 V kept 95 % "
        "after a year, ~0.4 %/month); typical 1-2 %/month after the first day (Battery University BU-802b); "
        "worst in a warm bin at full charge (guess)",
    ),
    Input(
        "li_ion_protection_ua",
        "uA",
        0,
        3,
        6,
        "datasheet: DW01A-class Li-ion protection IC, operating current 3 uA typ / 6 uA max",
    ),
    Input(
        "li_ion_usable",
        "fraction",
        0.92,
        0.9,
        0.8,
        "guess: charge above the 3.4 V low-battery line (LOW_BATTERY_MV) at the node's tiny average current; "
        "the regulator needs ~3.4 V to hold 3.3 V",
    ),
    Input(
        "li_ion_cold_factor",
        "fraction",
        1.0,
        0.95,
        0.75,
        "guess: from typical 18650 discharge curves, 20 C / a city's year (mean ~10 C) / a winter at -10 C",
    ),
    Input(
        "li_socl2_self_discharge_pct_year",
        "%/year",
        0.5,
        1.0,
        3.0,
        "datasheet: Saft LS 33600 / Tadiran TL-5930 (Li-SOCl2 bobbin cells): < 1 %/year at 20 C; worst in "
        "a sun-heated bin (guess)",
    ),
    Input(
        "li_socl2_usable",
        "fraction",
        0.95,
        0.9,
        0.8,
        "guess: capacity delivered to 3.0 V at uA-average / 100 mA-pulse loads with a pulse buffer "
        "(without one, passivation and voltage delay cost more: see the pulse note)",
    ),
    Input(
        "li_socl2_cold_factor",
        "fraction",
        1.0,
        0.95,
        0.8,
        "guess: from Li-SOCl2 datasheet curves, 20 C / a city's year / -20 C",
    ),
)

BY_NAME = {i.name: i for i in INPUTS}


def values(case: str = "typical", **overrides: float) -> dict[str, float]:
    """Every input's value for one case, with named overrides (e.g. values("typical", sf=7))."""
    if case not in CASES:
        raise ValueError(f"case must be one of {', '.join(CASES)}, not {case!r}")
    out = {i.name: i.value(case) for i in INPUTS}
    for name, value in overrides.items():
        if name not in out:
            raise KeyError(f"no energy input named {name!r}")
        out[name] = float(value)
    return out


def sleep_ua(v: dict[str, float]) -> float:
    """Current of the whole node in deep sleep (the battery's own drains are counted in `Battery`)."""
    return (
        v["esp32_deep_sleep_ua"]
        + v["rak3172_sleep_ua"]
        + v["divider_ua"]
        + v["regulator_iq_ua"]
        + v["sensor_switch_off_ua"]
        + v["pin_leak_ua"]
    )


def cycle_mah(
    v: dict[str, float],
    awake_ms: float,
    tx_ms: float,
    sleep_ms: float,
    sensor_ms: float = 0.0,
    rx_windows: int = 0,
    light_ms: float = 0.0,
    extra_sleep_ua: float = 0.0,
) -> float:
    """Charge of one wake cycle and the sleep after it.

    awake_ms: ESP32 boot to deep sleep, of which light_ms in light sleep; tx_ms: the modem transmitting (on
    top of the ESP32); sensor_ms: the switched sensor supply on; rx_windows: receive windows the modem
    opened (2 per uplink or join); extra_sleep_ua: a sleep-current term the caller knows and the inputs do
    not (e.g. a pin released in deep sleep).
    """
    mas = (
        (awake_ms - light_ms) * v["esp32_active_ma"]
        + light_ms * v["esp32_light_sleep_ma"]
        + tx_ms * v["rak3172_tx_ma"]
        + sensor_ms * v["sensor_ma"]
        + rx_windows * v["rx_window_ms"] * v["rak3172_rx_ma"]
        + sleep_ms * (sleep_ua(v) + extra_sleep_ua) / 1000.0
    )
    return mas / MAS_PER_MAH


# -- what the firmware does in a day (estimated from the inputs) ---------------------------------------------
@dataclass(frozen=True)
class Duty:
    """A day of the firmware at one configuration, as durations the model estimates."""

    interval_min: int = 15
    batch_size: int = 16
    status_every: int = 12

    def wakes(self) -> float:
        return 1440 / self.interval_min

    def uplinks(self, v: dict[str, float]) -> float:
        batches = self.wakes() / self.batch_size + v["early_uplinks_per_day"]
        return batches * (1 + 1 / self.status_every)  # a status after every status_every uplinks

    def sensor_ms(self, v: dict[str, float]) -> float:
        """Sensor supply on per wake: warm-up + climate + the ranger's frames (first one a frame away)."""
        return v["sensor_overhead_ms"] + v["ultrasonic_frames"] * v["a02yyuw_frame_ms"]

    def quiet_awake_ms(self, v: dict[str, float]) -> float:
        imports = v["modules_per_cycle"] * v["import_ms_per_module"]
        return v["boot_ms"] + imports + v["cpu_work_ms"] + self.sensor_ms(v)

    def light_ms(self, v: dict[str, float]) -> float:
        """Light sleep per wake: a nap before every frame."""
        return v["ultrasonic_frames"] * min(v["nap_ms_per_frame"], v["a02yyuw_frame_ms"])

    def batch_bytes(self, v: dict[str, float]) -> int:
        """Bytes of a batch frame (SPEC fPort 2): 71 header bits + the deltas, at most the DR0 payload."""
        bits = 71 + (self.batch_size - 1) * v["delta_bits_per_reading"]
        return min(51, int(-(-bits // 8)))

    def uplink_tx_ms(self, v: dict[str, float]) -> float:
        from protocols import airtime

        return airtime.time_on_air_ms(self.batch_bytes(v), int(v["sf"]))

    def uplink_awake_ms(self, v: dict[str, float]) -> float:
        return v["at_ms_per_uplink"] + self.uplink_tx_ms(v) + v["uplink_wait_ms"]

    def day_mah(self, v: dict[str, float]) -> dict[str, float]:
        """mAh a day per term (sleep, awake, sensors, tx, rx) for these inputs."""
        wakes = self.wakes()
        ups = self.uplinks(v)
        awake_ms = wakes * self.quiet_awake_ms(v) + ups * self.uplink_awake_ms(v)
        napped = v["uplink_wait_light_fraction"] * (self.uplink_tx_ms(v) + v["uplink_wait_ms"])
        light_ms = wakes * self.light_ms(v) + ups * napped
        tx_ms = ups * self.uplink_tx_ms(v)
        sleep_ms = MS_PER_DAY - awake_ms
        return {
            "sleep": sleep_ms * sleep_ua(v) / 1000.0 / MAS_PER_MAH,
            "awake": (awake_ms - light_ms) * v["esp32_active_ma"] / MAS_PER_MAH,
            "light_sleep": light_ms * v["esp32_light_sleep_ma"] / MAS_PER_MAH,
            "sensors": wakes * self.sensor_ms(v) * v["sensor_ma"] / MAS_PER_MAH,
            "tx": tx_ms * v["rak3172_tx_ma"] / MAS_PER_MAH,
            "rx": ups * 2 * v["rx_window_ms"] * v["rak3172_rx_ma"] / MAS_PER_MAH,
        }


# -- batteries -----------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Battery:
    key: str
    name: str
    capacity_mah: float
    note: str

    def self_discharge_mah_per_day(self, v: dict[str, float]) -> float:
        if self.key == "li_socl2_d":
            return self.capacity_mah * v["li_socl2_self_discharge_pct_year"] / 100 / 365.25
        month = self.capacity_mah * v["li_ion_self_discharge_pct_month"] / 100 / 30.44
        return month + v["li_ion_protection_ua"] * 24 / 1000

    def usable_mah(self, v: dict[str, float]) -> float:
        if self.key == "li_socl2_d":
            return self.capacity_mah * v["li_socl2_usable"] * v["li_socl2_cold_factor"]
        return self.capacity_mah * v["li_ion_usable"] * v["li_ion_cold_factor"]


BATTERIES = (
    Battery(
        "li_ion_18650",
        "Li-ion 18650, 3.7 V 3,400 mAh (e.g. Panasonic NCR18650B)",
        3400,
        "rechargeable; self-discharge and the protection IC cost more than the node sleeping",
    ),
    Battery(
        "li_socl2_d",
        "Li-SOCl2 D cell, 3.6 V 19 Ah (Tadiran TL-5930 / EVE ER34615; Saft LS 33600 is rated 17 Ah)",
        19000,
        "bobbin cells give ~100-250 mA continuous but sag under pulses after passivation, worst when cold: "
        "buffer the ~130 mA TX bursts (modem 90 mA + ESP32 35 mA for ~2 s at SF12) with a hybrid layer "
        "capacitor (e.g. Tadiran PulsesPlus) or a supercapacitor of ~1 F behind a current-limiting resistor",
    ),
)
BATTERY_BY_KEY = {b.key: b for b in BATTERIES}


def life_days(battery: Battery, v: dict[str, float], duty: Duty | None = None) -> float:
    duty = duty or Duty()
    per_day = sum(duty.day_mah(v).values()) + battery.self_discharge_mah_per_day(v)
    return battery.usable_mah(v) / per_day


def life_table(duty: Duty | None = None) -> list[dict]:
    """Years per battery per case, and the mAh a day per term behind them."""
    duty = duty or Duty()
    rows = []
    for case in CASES:
        v = values(case)
        terms = duty.day_mah(v)
        row = {
            "case": case,
            "uplinks_per_day": round(duty.uplinks(v), 2),
            "quiet_awake_ms": round(duty.quiet_awake_ms(v)),
            "load_mah_per_day": round(sum(terms.values()), 3),
            "terms_mah_per_day": {k: round(x, 3) for k, x in terms.items()},
        }
        for b in BATTERIES:
            row[f"{b.key}_years"] = round(life_days(b, v, duty) / 365.25, 1)
        rows.append(row)
    return rows


def sensitivity(duty: Duty | None = None, battery_key: str = "li_socl2_d") -> list[tuple[str, float, float]]:
    """(input, years with it at best, years with it at worst), all others typical; largest swing first."""
    duty = duty or Duty()
    battery = BATTERY_BY_KEY[battery_key]
    out = []
    for i in INPUTS:
        lo = life_days(battery, values("typical", **{i.name: i.best}), duty) / 365.25
        hi = life_days(battery, values("typical", **{i.name: i.worst}), duty) / 365.25
        out.append((i.name, round(lo, 1), round(hi, 1)))
    out.sort(key=lambda r: -abs(r[1] - r[2]))
    return out


def life_table_json(duty: Duty | None = None) -> str:
    import json

    duty = duty or Duty()
    return json.dumps({"duty": duty.__dict__, "cases": life_table(duty)}, indent=2)


def render(duty: Duty | None = None) -> str:
    """The inputs, the table and the sensitivity as Markdown (what `kumpel energy` prints)."""
    duty = duty or Duty()
    lines = [
        f"Duty: every {duty.interval_min} min, batch_size {duty.batch_size}, status every "
        f"{duty.status_every} uplinks",
        "",
        "| case | uplinks/day | quiet cycle awake ms | load mAh/day | 18650 years | D cell years |",
        "|---|---|---|---|---|---|",
    ]
    for r in life_table(duty):
        lines.append(
            f"| {r['case']} | {r['uplinks_per_day']} | {r['quiet_awake_ms']} | {r['load_mah_per_day']} | "
            f"{r['li_ion_18650_years']} | {r['li_socl2_d_years']} |"
        )
    lines += ["", "| input | unit | best | typical | worst | source |", "|---|---|---|---|---|---|"]
    for i in INPUTS:
        lines.append(f"| {i.name} | {i.unit} | {i.best:g} | {i.typical:g} | {i.worst:g} | {i.source} |")
    lines += ["", "Sensitivity (D cell, one input at best / worst, the rest typical):", ""]
    lines += ["| input | years at best | years at worst |", "|---|---|---|"]
    for name, lo, hi in sensitivity(duty):
        lines.append(f"| {name} | {lo} | {hi} |")
    lines += ["", "Batteries:"] + [f"- {b.name}: {b.note}" for b in BATTERIES]
    return "\n".join(lines)


def cli(
    interval_min: Annotated[int, typer.Option(help="meas_interval_min of the duty")] = 15,
    batch_size: Annotated[int, typer.Option(help="readings per batch uplink (the fleet's setting)")] = 16,
    status_every: Annotated[int, typer.Option(help="a status uplink after this many uplinks")] = 12,
    as_json: Annotated[bool, typer.Option("--json", help="the table as JSON")] = False,
) -> None:
    """`kumpel energy`: the energy model's inputs, battery life per case and the sensitivity table."""

    if not 1 <= interval_min <= 1440 or not 1 <= batch_size <= 32 or not 1 <= status_every <= 255:
        typer.echo("error: interval-min 1..1440, batch-size 1..32, status-every 1..255", err=True)
        raise typer.Exit(2)
    duty = Duty(interval_min=interval_min, batch_size=batch_size, status_every=status_every)
    typer.echo(life_table_json(duty) if as_json else render(duty))
