"""The provisioning file and surroundings a simulated node gets unless a test says otherwise (bench/ too)."""

PROVISION = {
    "v": 1,
    "dev_eui": "70b3d57ed0050100",
    "join_eui": "0000000000000001",
    "app_key": "000102030405060708090a0b0c0d0e0f",
    "band": 4,
    "board": "devkit_rak3172",
    "ultrasonic": "a02yyuw",
    "climate": "shtc3",
    "name": "test-bin",
}
ENV = {"distance_cm": 80, "temperature_c": 18.5, "humidity_pct": 60, "pressure_hpa": 1013, "battery_v": 3.9}
