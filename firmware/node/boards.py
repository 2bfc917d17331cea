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


# outputs and their level when a wake begins: modem out of reset, sensors and their power off, LED off
_OUTPUTS = (("us_power_down", 1), ("modem_reset", 1), ("sensor_power", 0), ("led", 0))
_HELD = ("trig", "us_power_down", "modem_reset", "sensor_power", "led")


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
    # Outputs are built with hold=False: a pad held through deep sleep keeps its latched level until it is
    # re-initialised with hold= (ESP32 port, docs/esp32/quickref.rst). pull=None: no weak pull fighting
    # the level (GPIO4 has a pull-down at reset: against NRST's pull-up it would leak ~40 uA).
    if "trig" in prof:
        hw["trig"] = Pin(prof["trig"], Pin.OUT, pull=None, value=0, hold=False)
    if "echo" in prof:
        hw["echo"] = Pin(prof["echo"], Pin.IN)
    for key, level in _OUTPUTS:
        if key in prof:
            hw[key] = Pin(prof[key], Pin.OUT, pull=None, value=level, hold=False)
    if "battery_adc" in prof:
        hw["battery_adc"] = machine.ADC(Pin(prof["battery_adc"]), atten=machine.ADC.ATTN_11DB)
    return hw


def hold(hw, esp32):
    """Hold every output at its level through deep sleep: a released pad floats (the sensor switch, the
    RAK12007 power-down, the modem's NRST). RTC GPIOs need only the pad hold; the others also need
    esp32.gpio_deep_sleep_hold(True) (ESP32 port, docs/esp32/quickref.rst "Deep-sleep mode")."""
    for key in _HELD:
        pin = hw.get(key)
        if pin is not None:
            pin.init(hold=True)
    esp32.gpio_deep_sleep_hold(True)
