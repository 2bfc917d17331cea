"""The node's settings: defaults and limits from protocols.settings (the one schema), persisted in flash.

config.json = {"config_version": n, "settings": {name: value}}. Loading never fails: a missing file means
defaults; a corrupt file or a bad value means defaults for what is broken, and `problem` says what, so the
status uplink and the log can report it. Saving is atomic (store.write_atomic).
"""

import json

from node import store
from protocols import settings

PATH = "config.json"


class Config:
    def __init__(self):
        self.version = 0
        self.values = settings.defaults()
        self.problem = None  # None, or a short text of what fell back to defaults

    def __getitem__(self, name):
        return self.values[name]

    def load(self, path=PATH):
        text = store.read_text(path)
        if text is None:
            return self
        try:
            doc = json.loads(text)
            version = doc["config_version"]
            stored = doc["settings"]
            if not isinstance(version, int) or not isinstance(stored, dict):
                raise ValueError("config_version/settings of the wrong type")
        except (ValueError, KeyError, TypeError) as e:
            self.problem = f"corrupt {path} ({e}): defaults in use"
            return self
        self.version = version
        bad = []
        for name, value in stored.items():
            status = settings.check(name, value)
            if status == "ok":
                self.values[name] = int(value)
            else:
                bad.append(name)
        if bad:
            self.problem = "{}: {} rejected, defaults kept".format(path, ",".join(bad))
        return self

    def apply(self, version, entries):
        """Apply parsed config entries [(id, value|None, status)] key by key; returns [(id, status)].

        Entries the codec already refused (status != ok) are reported as such; an entry that is ok is
        checked again here against the same schema so a node never stores what it cannot use.
        """
        report = []
        for sid, value, status in entries:
            if status == "ok":
                status = settings.check(sid, value)
            if status == "ok":
                self.values[settings.BY_ID[sid][1]] = int(value)
            report.append((sid, status))
        self.version = version
        return report

    def save(self, path=PATH):
        store.write_atomic(path, json.dumps({"config_version": self.version, "settings": self.values}))
