"""The provisioning file a simulated test node gets unless a test says otherwise."""

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
