"""Board profiles: the one place that knows pin numbers (docs/CONTRACTS.md section 2).

A profile is plain data so the emulator can wire its simulated devices from the same table the firmware
builds its machine objects from. build() turns a profile into machine objects; drivers only ever see those.
"""

# Each profile: bus/pin assignments. UART entries are (id, tx, rx, baudrate); I2C is (id, scl, sda).
# Pins absent from a profile are absent from the dict build() returns. "link" names the LoRaWAN link
# (node/link.py): "rui3" (a RAK3172 modem on modem_uart, the default) or "native" (an SX1262 on SPI,
# described by "lora": spi (id, sck, mosi, miso), nss, reset, busy, dio1, TCXO voltage on DIO3 in mV,
# whether DIO2 drives the RF switch, and an antenna/LNA supply pin if the module has one).
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
    # RAK11200 with a RAK13300 (SX1262) in the IO slot: pins from RAK's WisBlock IO mapping as the
    # Meshtastic RAK11200 variant records it (meshtastic/firmware variants/esp32/rak11200/variant.h,
    # citing docs.rakwireless.com RAK13300): NSS = WB_CS GPIO32, SPI SCK 33 / MOSI 25 / MISO 35,
    # RESET = IO4 (23), BUSY = IO5 (13), DIO1 = IO6 (22), antenna switch supply IO3 (26), module power
    # IO2 (27, the 3V3_S rail, shared with the sensors), DIO2 RF switch, TCXO 1.8 V on DIO3.
    # The IO slot is taken, so the ultrasonic sensor is a UART one (A02YYUW) on UART1 (tx 21, rx 19).
    "rak11200_rak13300": {
        "link": "native",
        "lora": {
            "spi": (1, 33, 25, 35),
            "nss": 32,
            "reset": 23,
            "busy": 13,
            "dio1": 22,
            "ant_power": 26,
            "tcxo_mv": 1800,
            "dio2_rf_switch": True,
        },
        "sensor_uart": (1, 21, 19, 9600),
        "i2c": (0, 5, 4),
        "sensor_power": 27,  # IO2: 3V3_S, powers the RAK13300 too
        "battery_adc": 36,
        "battery_ratio": 0.6,
        "led": 12,
    },
    # Heltec WiFi LoRa 32 V3 (ESP32-S3 + SX1262 on board): SPI NSS 8, SCK 9, MOSI 10, MISO 11, RESET 12,
    # BUSY 13, DIO1 14 (HelTecAutomation/Heltec_ESP32 src/driver/board-config.h, WIFI_LORA_32_V3);
    # TCXO 1.8 V on DIO3 and DIO2 as RF switch (meshtastic variants/esp32s3/heltec_v3/variant.h); LED 35,
    # header I2C SDA 41 / SCL 42 (espressif/arduino-esp32 variants/heltec_wifi_lora_32_V3/pins_arduino.h);
    # battery on GPIO1 through a 390k/100k divider (×4.9, Meshtastic's ADC_MULTIPLIER).
    # Not wired here: Vext (GPIO36, active low) and the battery divider switch ADC_CTRL (GPIO37).
    "heltec_v3": {
        "link": "native",
        "lora": {
            "spi": (1, 9, 10, 11),
            "nss": 8,
            "reset": 12,
            "busy": 13,
            "dio1": 14,
            "tcxo_mv": 1800,
            "dio2_rf_switch": True,
        },
        "i2c": (0, 42, 41),
        "battery_adc": 1,
        "battery_ratio": 0.204,
        "led": 35,
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
    if "led" in prof:
        hw["led"] = Pin(prof["led"], Pin.OUT, value=0)
    hw["link"] = prof.get("link", "rui3")
    if "lora" in prof:
        hw["lora"] = _lora(prof["lora"], machine)
    return hw


def _lora(lp, machine):
    """The SX1262's bus and pins as machine objects; the driver is made by node.link.make_radio."""
    Pin = machine.Pin
    bus, sck, mosi, miso = lp["spi"]
    lora = {
        "spi": machine.SPI(bus, baudrate=2000000, sck=Pin(sck), mosi=Pin(mosi), miso=Pin(miso)),
        "cs": Pin(lp["nss"], Pin.OUT, pull=None, value=1, hold=False),
        "busy": Pin(lp["busy"], Pin.IN),
        "dio1": Pin(lp["dio1"], Pin.IN),
        "reset": Pin(lp["reset"], Pin.OUT, pull=None, value=1, hold=False),
        "tcxo_mv": lp.get("tcxo_mv"),
        "dio2_rf_switch": lp.get("dio2_rf_switch", True),
    }
    if "ant_power" in lp:
        lora["ant_power"] = Pin(lp["ant_power"], Pin.OUT, pull=None, value=0, hold=False)
    return lora


def hold(hw, esp32):
    """Hold every output at its level through deep sleep: a released pad floats (the sensor switch, the
    RAK12007 power-down, the modem's NRST). RTC GPIOs need only the pad hold; the others also need
    esp32.gpio_deep_sleep_hold(True) (ESP32 port, docs/esp32/quickref.rst "Deep-sleep mode")."""
    for key in _HELD:
        pin = hw.get(key)
        if pin is not None:
            pin.init(hold=True)
    lora = hw.get("lora")  # the SX1262 sleeps: NSS and NRESET high, the antenna supply off
    if lora is not None:
        for key in ("cs", "reset", "ant_power"):
            pin = lora.get(key)
            if pin is not None:
                pin.init(hold=True)
    esp32.gpio_deep_sleep_hold(True)
