"""Names of the hardware a node can be built from, as `provision.json` carries them (docs/CONTRACTS.md §3),
and the reset causes its MCU reports. The one home of these names (a small module: the firmware imports it).

The fleet validates registrations with these, protocols/provisioning.py checks provision.json with them
(firmware and node tool), the firmware's sensor builder names its kinds with them and its status uplink
its reset cause; the board profiles (node/boards.py PROFILES) and the JS codec's RESET_CAUSES must name the
same things — tests/test_contracts.py holds them together.
"""

BOARDS = ("devkit_rak3172", "rak11200", "rak11200_rak13300", "heltec_v3")
NATIVE_BOARDS = ("rak11200_rak13300", "heltec_v3")  # a bare SX1262: the firmware's own LoRaWAN stack
ULTRASONIC = ("jsn_sr04t", "a02yyuw", "rak12007")
CLIMATE = ("shtc3", "sht4x", "bme280")
# index = the value of MicroPython's machine.reset_cause() (1 PWRON_RESET ... 5 SOFT_RESET); 0 and
# "brownout" (6) for causes a port reports otherwise. The status uplink carries the index (SPEC fPort 3).
RESET_CAUSES = ("unknown", "power_on", "hard", "watchdog", "deepsleep", "soft", "brownout")
