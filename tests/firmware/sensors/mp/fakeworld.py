"""The smallest world the sim devices need (CONTRACTS 2): env, faults, clock, power per sensor kind."""

import time


class World:
    def __init__(self, **env):
        self.env = {"distance_cm": 120.0, "temperature_c": 20.0, "humidity_pct": 50.0}
        self.env["pressure_hpa"] = 1013.25
        self.env.update(env)
        self.faults = {}
        self.power = {}  # kind -> bool or a callable returning bool; absent = powered

    def now_us(self):
        return time.now_us()

    def powered(self, kind):
        state = self.power.get(kind, True)
        return state() if callable(state) else state
