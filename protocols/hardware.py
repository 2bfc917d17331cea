"""Names of the hardware a node can be built from, as `provision.json` carries them (docs/CONTRACTS.md §3).

The fleet validates registrations with these and the node tool validates what it writes; the firmware's
own tables (node/boards.py PROFILES, node/sensors ULTRASONIC_KINDS / CLIMATE_KINDS) must name the same
things — tests/test_contracts.py holds them together.
"""

BOARDS = ("devkit_rak3172", "rak11200", "rak11200_rak13300", "heltec_v3")
NATIVE_BOARDS = ("rak11200_rak13300", "heltec_v3")  # a bare SX1262: the firmware's own LoRaWAN stack
ULTRASONIC = ("jsn_sr04t", "a02yyuw", "rak12007")
CLIMATE = ("shtc3", "sht4x", "bme280")
