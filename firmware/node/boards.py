"""Board profiles: the one place that knows pin numbers (docs/CONTRACTS.md section 2).

A profile is plain data so the emulator can wire its simulated devices from the same table the firmware
builds its machine objects from. build() turns a profile into machine objects; drivers only ever see those.
"""

# Each profile: bus/pin assignments. UART entries are (id, tx, rx, baudrate); I2C is (id, scl, sda).
# Pins absent from a profile are absent from the dict build() returns.
PROFILES = {
    # Generic ESP32 DevKit-C with a RAK3172 breakout on UART2, sensors behind a P-MOSFET high-side switch.
    "devkit_rak3172": {
        "modem_uart": (2, 17, 16, 115200),
        "modem_reset": 4,  # RAK3172 NRST, active low
        "sensor_uart": (1, 33, 32, 9600),  # A02YYUW: TX unused (processed mode), RX from the sensor
        "i2c": (0, 22, 21),
        "trig": 26,
        "echo": 27,
        "sensor_power": 25,  # high = sensors powered
        "battery_adc": 34,
        "battery_ratio": 0.5,  # 100k/100k divider
        "led": 2,
    },
    # RAK WisBlock RAK11200 (ESP32-WROVER) on a base with the RAK3172 on UART1 (tx=21, rx=19: the
    # defaults collide with I2C1 on SPIRAM boards), RAK12007 in the IO slot, SHTC3 (RAK1901) on I2C1.
    "rak11200": {
        "modem_uart": (1, 21, 19, 115200),
        "i2c": (0, 5, 4),
        "trig": 22,  # IO6
        "echo": 23,  # IO4
        "us_power_down": 13,  # IO5, high = off
        "sensor_power": 27,  # IO2 switches 3V3_S
        "battery_adc": 36,  # AIN0
        "battery_ratio": 0.6,
        "led": 12,  # LED1
    },
}


class BoardError(ValueError):
    pass


def profile(name):
    """The profile dict of a board, or BoardError naming the known boards."""
    prof = PROFILES.get(name)
    if prof is None:
        raise BoardError("unknown board {!r} (known: {})".format(name, ", ".join(sorted(PROFILES))))
    return prof


def build(name, machine):
    """Machine objects of a board per CONTRACTS 2: i2c, sensor_uart, trig, echo, us_power_down,
    modem_uart, modem_reset, sensor_power, battery_adc, led, plus battery_ratio."""
    prof = profile(name)
    Pin = machine.Pin
    hw = {"battery_ratio": prof["battery_ratio"]}
    if "i2c" in prof:
        bus, scl, sda = prof["i2c"]
        hw["i2c"] = machine.I2C(bus, scl=Pin(scl), sda=Pin(sda), freq=100000)
    for key in ("modem_uart", "sensor_uart"):
        if key in prof:
            bus, tx, rx, baud = prof[key]
            hw[key] = machine.UART(bus, baudrate=baud, tx=tx, rx=rx, timeout=0)
    if "trig" in prof:
        hw["trig"] = Pin(prof["trig"], Pin.OUT, value=0)
    if "echo" in prof:
        hw["echo"] = Pin(prof["echo"], Pin.IN)
    if "us_power_down" in prof:
        hw["us_power_down"] = Pin(prof["us_power_down"], Pin.OUT, value=1)
    if "modem_reset" in prof:
        hw["modem_reset"] = Pin(prof["modem_reset"], Pin.OUT, value=1)
    if "sensor_power" in prof:
        hw["sensor_power"] = Pin(prof["sensor_power"], Pin.OUT, value=0)
    if "battery_adc" in prof:
        hw["battery_adc"] = machine.ADC(Pin(prof["battery_adc"]), atten=machine.ADC.ATTN_11DB)
    if "led" in prof:
        hw["led"] = Pin(prof["led"], Pin.OUT, value=0)
    return hw
