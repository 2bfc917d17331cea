"""The physical truth around one simulated node: bin fill, climate, battery charge, radio, faults.

The host owns this state (not the MicroPython process) so a node's battery and bin survive the node's
reboots and the summary can report them. Time is simulated microseconds since the scenario start.
Randomness is seeded per node and per instant, so a rerun of a scenario reproduces every reading.
"""

from __future__ import annotations

import math
import random
from datetime import timedelta

from tools import energy
from tools.emulator.scenario import NodeSpec, Scenario

US_PER_H = 3_600_000_000
# The currents come from the energy model (tools/energy.py, typical case): the emulator drains the battery
# with the durations the firmware spent, the model estimates them; the two are compared over a year.
ENERGY = energy.values("typical")
BROWNOUT_V = 2.9  # supply sag of the "brownout" fault (simboot has no brownout reset cause yet)
LID_OPEN_DISTANCE_CM = 999  # the sensor looks past the open lid: beyond every sensor's range
# Li-ion open-circuit voltage by state of charge (hardware.md: battery range 3.3-4.3 V)
_OCV = ((0.0, 3.0), (0.05, 3.3), (0.1, 3.45), (0.2, 3.6), (0.5, 3.75), (0.8, 3.95), (0.95, 4.1), (1.0, 4.2))


def ocv_volts(soc: float) -> float:
    soc = min(1.0, max(0.0, soc))
    for (s0, v0), (s1, v1) in zip(_OCV, _OCV[1:], strict=False):
        if soc <= s1:
            return v0 + (v1 - v0) * (soc - s0) / (s1 - s0)
    return _OCV[-1][1]


class NodeWorld:
    """World state of one node, asked at monotonically increasing simulated times."""

    def __init__(self, spec: NodeSpec, scenario: Scenario):
        self.spec = spec
        self.scenario = scenario
        self.charge_mah = spec.battery.capacity_mah * spec.battery.initial_pct / 100.0
        self.energy = {"awake_ms": 0, "tx_ms": 0, "sleep_ms": 0, "sensor_ms": 0, "light_ms": 0}
        self.load_mah = 0.0  # what the node drew (self-discharge apart)
        self.self_discharged_mah = 0.0
        self.rx_windows = 0  # receive windows opened since the last cycle was charged (2 per uplink/join)
        self._fill_pct = spec.bin.initial_fill_pct
        self._fill_t_h = 0.0
        self._last_self_discharge_h = 0.0
        self._start_weekday = scenario.start.weekday()
        self._start_hour = scenario.start.hour + scenario.start.minute / 60.0

    # -- time helpers --------------------------------------------------------------------------------
    def _hour_of_day(self, t_h: float) -> float:
        return (self._start_hour + t_h) % 24.0

    def _weekday(self, t_h: float) -> int:
        return int(self._start_weekday + (self._start_hour + t_h) // 24) % 7

    def rng(self, t_us: int, what: str) -> random.Random:
        return random.Random(f"{self.scenario.seed}:{self.spec.dev_eui}:{what}:{t_us}")

    def wall_time(self, t_us: int):
        return self.scenario.start + timedelta(microseconds=t_us)

    # -- bin -----------------------------------------------------------------------------------------
    def fill_pct(self, t_us: int) -> float:
        """Fill level integrated hour by hour since the last query; emptied on the schedule."""
        t_h = t_us / US_PER_H
        if t_h < self._fill_t_h:  # asked about the past (a restarted run): start over
            self._fill_pct, self._fill_t_h = self.spec.bin.initial_fill_pct, 0.0
        b = self.spec.bin
        while self._fill_t_h < t_h:
            step_end = min(t_h, math.floor(self._fill_t_h) + 1.0)
            hour = int(self._hour_of_day(self._fill_t_h)) % 24
            day = self._weekday(self._fill_t_h)
            rate = b.fill_pct_per_hour[hour] * b.weekday_factor[day]
            if day in b.empty_weekdays and self._crosses(self._fill_t_h, step_end, b.empty_hour):
                self._fill_pct = 0.0
            self._fill_pct = min(100.0, self._fill_pct + rate * (step_end - self._fill_t_h))
            self._fill_t_h = step_end
        return self._fill_pct

    def _crosses(self, t0_h: float, t1_h: float, at_hour: float) -> bool:
        h0 = self._hour_of_day(t0_h)
        h1 = h0 + (t1_h - t0_h)
        return h0 <= at_hour < h1 or h0 <= at_hour + 24 < h1

    def distance_cm(self, t_us: int) -> float:
        b = self.spec.bin
        t_h = t_us / US_PER_H
        if any(w.contains(t_h) for w in b.lid_open):
            return LID_OPEN_DISTANCE_CM
        truth = b.height_cm * (1.0 - self.fill_pct(t_us) / 100.0)
        noisy = truth + self.rng(t_us, "bin").gauss(0.0, b.noise_cm) if b.noise_cm else truth
        return round(max(0.0, noisy), 1)

    # -- climate -------------------------------------------------------------------------------------
    def climate(self, t_us: int) -> tuple[float, float, float]:
        c = self.spec.climate_model
        t_h = t_us / US_PER_H
        phase = 2 * math.pi * (self._hour_of_day(t_h) - c.temp_peak_hour) / 24.0
        temp = c.temp_mean_c + c.temp_amplitude_c * math.cos(phase)
        hum = c.humidity_mean_pct - c.humidity_amplitude_pct * math.cos(phase)  # driest when warmest
        if c.fire is not None and c.fire.at_h <= t_h:
            since = t_h - c.fire.at_h
            if since < c.fire.duration_h:  # flames: rises to the peak within ten minutes
                temp = max(temp, temp + (c.fire.peak_c - temp) * min(1.0, since * 6.0))
                hum = max(5.0, hum * 0.3)
            else:  # cooling down with a 30-minute time constant
                temp = temp + (c.fire.peak_c - temp) * math.exp(-(since - c.fire.duration_h) * 2.0)
        rng = self.rng(t_us, "climate")
        temp += rng.gauss(0.0, 0.1)
        hum = min(100.0, max(0.0, hum + rng.gauss(0.0, 0.5)))
        return round(temp, 2), round(hum, 1), round(c.pressure_hpa + 3 * math.sin(t_h / 30.0), 1)

    # -- battery -------------------------------------------------------------------------------------
    def battery_v(self, t_us: int) -> float:
        self._self_discharge(t_us)
        return round(ocv_volts(self.charge_mah / self.spec.battery.capacity_mah), 3)

    def battery_pct(self) -> float:
        return max(0.0, 100.0 * self.charge_mah / self.spec.battery.capacity_mah)

    def _self_discharge(self, t_us: int) -> None:
        t_h = t_us / US_PER_H
        dt = t_h - self._last_self_discharge_h
        if dt > 0:
            per_h = (
                self.spec.battery.capacity_mah * self.spec.battery.self_discharge_pct_per_month / 100 / 730
            )
            self.charge_mah = max(0.0, self.charge_mah - per_h * dt)
            self.self_discharged_mah += per_h * dt
            self._last_self_discharge_h = t_h

    def spend(
        self,
        awake_ms: float,
        tx_ms: float,
        sleep_ms: float,
        sensor_ms: float = 0.0,
        light_ms: float = 0.0,
        leak_ua: float = 0.0,
    ) -> None:
        """Drain what the firmware reported spending in one cycle (the `sleep` message of the radio link):
        awake (of which light_ms in light sleep), on air, sensor supply on, receive windows, asleep;
        leak_ua: what the board's released output pins leak during this sleep (sim machine.py)."""
        e = self.energy
        e["awake_ms"] += awake_ms
        e["tx_ms"] += tx_ms
        e["sleep_ms"] += sleep_ms
        e["sensor_ms"] += sensor_ms
        e["light_ms"] += light_ms
        mah = energy.cycle_mah(
            ENERGY,
            awake_ms,
            tx_ms,
            sleep_ms,
            sensor_ms=sensor_ms,
            rx_windows=self.rx_windows,
            light_ms=light_ms,
            extra_sleep_ua=leak_ua,
        )
        self.rx_windows = 0
        self.load_mah += mah
        self.charge_mah = max(0.0, self.charge_mah - mah)

    @property
    def empty(self) -> bool:
        return self.charge_mah <= 0.0

    # -- faults and radio ----------------------------------------------------------------------------
    def faults(self, t_us: int) -> dict[str, str]:
        t_h = t_us / US_PER_H
        out: dict[str, str] = {}
        for f in self.spec.faults:
            if f.window.contains(t_h):
                key, value = f.world_key
                if key != "supply":  # handled in env(): not a device fault
                    out[key] = value
        if self.empty:
            out["power"] = "brownout"
        return out

    def active_fault_kinds(self, t_us: int) -> list[str]:
        """Scenario fault kinds in force now (for the summary; includes host-side ones like brownout)."""
        t_h = t_us / US_PER_H
        kinds = [f.kind for f in self.spec.faults if f.window.contains(t_h)]
        return kinds + (["battery_empty"] if self.empty else [])

    def in_dead_zone(self, t_us: int) -> bool:
        t_h = t_us / US_PER_H
        return not self.spec.radio.gateways or any(w.contains(t_h) for w in self.spec.radio.dead_zone)

    def gateways_hearing(self, t_us: int, what: str = "up") -> list[tuple[str, float, float]]:
        """(gateway_id, rssi, snr) of every gateway that received this transmission; [] when it is lost."""
        if self.in_dead_zone(t_us):
            return []
        rng = self.rng(t_us, what)
        if rng.random() < self.spec.radio.packet_loss:
            return []
        return [
            (g.gateway_id, round(g.rssi + rng.gauss(0, 1.5)), round(g.snr + rng.gauss(0, 1.0), 1))
            for g in self.spec.radio.gateways
        ]

    def radio_state(self, t_us: int) -> dict:
        best = self.spec.radio.gateways[0] if self.spec.radio.gateways else None
        return {
            "dead_zone": self.in_dead_zone(t_us),
            "rssi": best.rssi if best else None,
            "snr": best.snr if best else None,
            "gateways": len(self.spec.radio.gateways),
        }

    def env(self, t_us: int) -> dict:
        """world.env for the simulated devices (CONTRACTS 2) at this instant."""
        temp, hum, press = self.climate(t_us)
        return {
            "distance_cm": self.distance_cm(t_us),
            "temperature_c": temp,
            "humidity_pct": hum,
            "pressure_hpa": press,
            "battery_v": self.battery_v(t_us),
        }
