"""Simulated sensors at the bus level, for the emulator and the driver tests (MicroPython and CPython).

Each device answers the real bytes a driver sends (Sensirion commands with real CRC-8, BME280 registers
with real factory calibration, A02YYUW UART frames, JSN-SR04T / RAK12007 echo pulses), computed from the
physical truth in `world.env` at the moment it is asked. A driver that gets a formula, a command byte, a
CRC, a wait or a byte order wrong reads wrong values here, as it would on the bench.

Physics deliberately differs from the firmware's model where the real world does: the speed of sound is
331.3 * sqrt(1 + T/273.15) here, the firmware uses the linear 331.3 + 0.606 T; the BME280 raw values are
found by inverting Bosch's floating-point formulas, the firmware compensates with the integer ones.

World interface (docs/CONTRACTS.md section 2): `world.env` (dict: distance_cm, temperature_c,
humidity_pct, pressure_hpa), `world.faults` (dict: "ultrasonic" / "climate" -> fault name),
`world.now_us()`, and optionally `world.powered(kind)`. Faults understood:
  both roles: "unplugged" / "nack" (no answer: NACK, no bytes, no echo), "garbage" (random bytes/widths)
  climate: "crc" (every CRC byte wrong; on the CRC-less BME280, every byte read is corrupted)
  ultrasonic: "crc" (A02YYUW frames with a wrong checksum), "noisy" (A02YYUW: junk bytes between the
  frames), "outliers" (every third ping a false near echo at 60 % of the distance)
Interface per device: I2C `.addr`, `.i2c_write(data) -> bool`, `.i2c_read(n) -> bytes | None`;
UART `.uart_write(data)`, `.uart_pending() -> bytes`; pulse `.trigger()`, `.pulse_us(level, timeout_us)`.
The device families live in simdevices_sensirion.py, simdevices_bme280.py and simdevices_rangers.py;
this module holds the shared base and make().
"""

_MODULES = {
    "shtc3": ("simdevices_sensirion", "Shtc3Sim"),
    "sht4x": ("simdevices_sensirion", "Sht4xSim"),
    "bme280": ("simdevices_bme280", "Bme280Sim"),
    "jsn_sr04t": ("simdevices_rangers", "JsnSr04tSim"),
    "rak12007": ("simdevices_rangers", "Rak12007Sim"),
    "a02yyuw": ("simdevices_rangers", "A02yyuwSim"),
}


class Rng:
    """xorshift32: deterministic noise, so a failing test fails the same way twice."""

    def __init__(self, seed):
        self.state = (seed & 0xFFFFFFFF) or 1

    def next(self):
        x = self.state
        x ^= (x << 13) & 0xFFFFFFFF
        x ^= x >> 17
        x ^= (x << 5) & 0xFFFFFFFF
        self.state = x
        return x

    def below(self, n):
        return self.next() % n


class Device:
    ROLE = ""  # key in world.faults

    def __init__(self, kind, world):
        self.kind = kind
        self.world = world
        self._rng = Rng(sum(kind.encode()) * 2654435761)

    def _env(self, key, default=None):
        env = self.world.env
        if callable(env):
            env = env()
        value = env.get(key)
        return default if value is None else value

    def fault(self):
        faults = self.world.faults
        if callable(faults):
            faults = faults()
        return faults.get(self.ROLE) if faults else None

    def powered(self):
        fn = getattr(self.world, "powered", None)
        return True if fn is None else bool(fn(self.kind))

    def alive(self):
        return self.powered() and self.fault() not in ("unplugged", "nack")

    def _junk(self, n):
        return bytes(self._rng.below(256) for _ in range(n))


def make(kind, world):
    """The simulated device for a sensor kind (the names of node.sensors.build and provision.json).

    Device families live in their own modules, imported on first use, so an emulated node with 64 KB
    of heap carries only the simulations of the sensors it has.
    """
    entry = _MODULES.get(kind)
    if entry is None:
        raise ValueError("no simulated device {!r} (known: {})".format(kind, ", ".join(sorted(_MODULES))))
    module = __import__(entry[0])
    return getattr(module, entry[1])(kind, world)
