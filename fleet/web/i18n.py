"""Language choice and locale formatting for the field-crew pages.

Two catalogs (German, English) as JSON beside this module. The language comes from a cookie the user set
with the switcher, else from the browser's Accept-Language, else German (the city's language). Numbers,
dates and durations are formatted here, in one place, so a page never shows "3.31" to a German crew, and
every time is shown in the city's time zone whatever the server's clock says.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from zoneinfo import ZoneInfo

from protocols import units

LANGUAGES = ("de", "en")
DEFAULT_LANGUAGE = "de"
LANG_COOKIE = "kumpel_lang"
CITY_TZ = ZoneInfo("Europe/Berlin")
_CATALOG_DIR = Path(__file__).parent / "catalogs"
_MONTHS_EN = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def as_utc(moment: datetime) -> datetime:
    """Aware UTC; a naive timestamp (SQLite keeps no zone) is taken as UTC."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment


@cache
def catalog(lang: str) -> dict[str, str]:
    """The message catalog of one language (loaded once)."""
    return json.loads((_CATALOG_DIR / f"{lang}.json").read_text(encoding="utf-8"))


def negotiate(cookie_value: str | None, accept_language: str | None) -> str:
    """Pick the page language: the user's remembered choice wins, then the browser's preference order."""
    if cookie_value in LANGUAGES:
        return cookie_value
    ranked: list[tuple[float, int, str]] = []
    for position, part in enumerate((accept_language or "").split(",")):
        fields = part.strip().split(";")
        tag = fields[0].strip().lower()
        if not tag:
            continue
        quality = 1.0
        for param in fields[1:]:
            name, _, value = param.strip().partition("=")
            if name == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        ranked.append((-quality, position, tag.split("-")[0]))
    for negative_quality, _position, base in sorted(ranked):
        if negative_quality < 0 and base in LANGUAGES:
            return base
    return DEFAULT_LANGUAGE


class Translator:
    """Everything a template needs to speak one language: messages, numbers, times, durations."""

    def __init__(self, lang: str, now: datetime | None = None):
        self.lang = lang if lang in LANGUAGES else DEFAULT_LANGUAGE
        self._messages = catalog(self.lang)
        self._fallback = catalog("en")
        self.now = now or datetime.now(UTC)

    @property
    def keys(self) -> dict[str, str]:
        """The catalog, for `key in t.keys` checks before choosing a message."""
        return self._messages

    def __call__(self, key: str, **params: object) -> str:
        """The message for `key`, with {placeholders} filled; an unknown key shows itself, never crashes."""
        text = self._messages.get(key) or self._fallback.get(key) or key
        if params:
            try:
                return text.format(**params)
            except (KeyError, IndexError, ValueError):
                return text
        return text

    def number(self, value: float | int | None, digits: int = 0) -> str:
        """A number with the locale's decimal and thousands separators; '–' when there is none."""
        if value is None:
            return "–"
        text = f"{value:,.{digits}f}"
        if self.lang == "de":
            text = text.replace(",", "\0").replace(".", ",").replace("\0", ".")
        return text.replace("-", "−")

    def bytes_free(self, n: float) -> str:
        """'227,5 GB frei': a size in the unit a person reads at a glance (protocols.units)."""
        value, unit = units.binary_size(n)
        return self("units.free", value=self.number(value, units.digits(value, unit)), unit=unit)

    def local(self, moment: datetime) -> datetime:
        """A timestamp in the city's time zone; naive datetimes from the database are taken as UTC."""
        return as_utc(moment).astimezone(CITY_TZ)

    def datetime(self, moment: datetime | None) -> str:
        """Date and time as the crew reads them: '29.11.2026, 03:20' / '29 Nov 2026, 03:20'."""
        if moment is None:
            return "–"
        local = self.local(moment)
        if self.lang == "de":
            return f"{local.day:02d}.{local.month:02d}.{local.year}, {local.hour:02d}:{local.minute:02d}"
        month = _MONTHS_EN[local.month - 1]
        return f"{local.day} {month} {local.year}, {local.hour:02d}:{local.minute:02d}"

    def time(self, moment: datetime | None) -> str:
        """Only the clock time, for chart axes within a day."""
        if moment is None:
            return "–"
        local = self.local(moment)
        return f"{local.hour:02d}:{local.minute:02d}"

    def date(self, moment: datetime | None) -> str:
        """Only the day, for chart axes over weeks."""
        if moment is None:
            return "–"
        local = self.local(moment)
        if self.lang == "de":
            return f"{local.day:02d}.{local.month:02d}."
        return f"{local.day} {_MONTHS_EN[local.month - 1]}"

    def duration(self, seconds: float | int | None) -> str:
        """A span in the two largest units: '3 h 10 min', '2 d 4 h', '45 s'."""
        if seconds is None:
            return "–"
        total = max(0, int(round(seconds)))
        days, rest = divmod(total, 86400)
        hours, rest = divmod(rest, 3600)
        minutes, secs = divmod(rest, 60)
        unit = self._messages
        parts = [(days, unit["unit.day"]), (hours, unit["unit.hour"]), (minutes, unit["unit.minute"])]
        shown = [f"{n} {name}" for n, name in parts if n]
        if not shown:
            return f"{secs} {unit['unit.second']}"
        return " ".join(shown[:2])

    def ago(self, moment: datetime | None) -> str:
        """How long ago something happened, relative to this request's clock."""
        if moment is None:
            return self("never")
        return self("ago", span=self.duration((self.now - as_utc(moment)).total_seconds()))
