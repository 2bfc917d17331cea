"""The pages' pure parts: language choice, locale formatting, the signed cookie, SVG charts."""

import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from fleet.web import charts, session
from fleet.web.i18n import Translator, negotiate

WEB = Path(__file__).resolve().parents[2] / "fleet" / "web"


@pytest.mark.parametrize(
    ("cookie", "header", "expected"),
    [
        (None, "en-US,en;q=0.9,de;q=0.8", "en"),
        (None, "fr-FR, de;q=0.5, en;q=0.4", "de"),
        (None, "de-AT", "de"),
        (None, "fr, es;q=0.5", "de"),  # nothing we speak: the city's language
        (None, "", "de"),
        (None, "en;q=0, de;q=0.1", "de"),  # q=0 means "not this one"
        (None, "en;q=bogus, de", "de"),
        ("en", "de-DE", "en"),  # the remembered choice wins over the browser
        ("xx", "en", "en"),  # a tampered cookie is ignored
    ],
)
def test_language_negotiation(cookie, header, expected):
    assert negotiate(cookie, header) == expected


def test_catalogs_have_the_same_keys_and_cover_the_templates():
    en = json.loads((WEB / "catalogs" / "en.json").read_text())
    de = json.loads((WEB / "catalogs" / "de.json").read_text())
    assert set(en) == set(de)
    used = set()
    for path in list((WEB / "templates").glob("*.html")) + list(WEB.rglob("*.py")):
        used.update(re.findall(r"""\bt\(\s*["']([a-z_]+\.[a-z_.]+)["']""", path.read_text()))
    missing = sorted(k for k in used if k not in en)
    assert not missing, f"message keys used but not in the catalogs: {missing}"


def test_numbers_follow_the_locale():
    assert Translator("de").number(1234.5, 1) == "1.234,5"
    assert Translator("en").number(1234.5, 1) == "1,234.5"
    assert Translator("de").number(3.31, 2) == "3,31"
    assert Translator("de").number(-5.25, 1) == "−5,2"
    assert Translator("en").number(None) == "–"


def test_times_are_shown_in_the_city_time_zone():
    summer = datetime(2026, 7, 1, 22, 30, tzinfo=UTC)  # CEST, UTC+2: already the next day in Berlin
    winter = datetime(2026, 1, 15, 8, 5)  # naive from the database = UTC; CET, UTC+1
    assert Translator("de").datetime(summer) == "02.07.2026, 00:30"
    assert Translator("en").datetime(summer) == "2 Jul 2026, 00:30"
    assert Translator("de").datetime(winter) == "15.01.2026, 09:05"
    assert Translator("en").time(winter) == "09:05"


def test_durations_and_ago_in_plain_words():
    en, de = Translator("en"), Translator("de")
    assert en.duration(3 * 3600 + 10 * 60 + 5) == "3 h 10 min"
    assert de.duration(3 * 3600 + 10 * 60) == "3 Std. 10 Min."
    assert en.duration(2 * 86400 + 4 * 3600 + 59) == "2 d 4 h"
    assert en.duration(45) == "45 s"
    now = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)
    assert Translator("de", now=now).ago(now - timedelta(minutes=90)) == "vor 1 Std. 30 Min."
    assert Translator("en", now=now).ago(None) == "never"


def test_unknown_message_key_shows_itself_and_bad_params_do_not_crash():
    t = Translator("en")
    assert t("no.such.key") == "no.such.key"
    assert t("ago", wrong="x") == "{span} ago"


def test_session_cookie_round_trip_and_tamper_and_expiry():
    who = session.Principal("token", "7", "Crew 3", "technician")
    cookie = session.sign("s3cret-key-for-tests", who, now=1000)
    back = session.verify("s3cret-key-for-tests", cookie, now=1001)
    assert (back.ident, back.name, back.role) == ("7", "Crew 3", "technician")
    assert session.verify("another-key", cookie, now=1001) is None
    body, sig = cookie.split(".")
    forged = session.Principal("token", "7", "Crew 3", "admin")
    forged_body = session.sign("attacker-key", forged, now=1000).split(".")[0]
    assert session.verify("s3cret-key-for-tests", f"{forged_body}.{sig}", now=1001) is None
    assert session.verify("s3cret-key-for-tests", cookie, now=1000 + session.SESSION_SECONDS + 1) is None
    for junk in ("", "abc", "a.b.c", "!!!.???"):
        assert session.verify("s3cret-key-for-tests", junk) is None


def _chart(points, **kw):
    start = datetime(2026, 11, 28, 12, tzinfo=UTC)
    args = dict(
        start=start,
        end=start + timedelta(hours=24),
        y_min=0,
        y_max=100,
        title="Fill <level>",
        y_label=str,
        x_label=lambda d: d.strftime("%H:%M"),
    )
    args.update(kw)
    return charts.line_chart(points, **args), start


def test_chart_draws_a_line_breaks_it_at_gaps_and_escapes_text():
    start = datetime(2026, 11, 28, 12, tzinfo=UTC)
    first = [(start + timedelta(minutes=15 * i), 10.0 + i) for i in range(20)]  # 5 h of data
    later = [(start + timedelta(hours=18, minutes=15 * i), 50.0) for i in range(8)]  # 2 h, after a 13 h gap
    svg, _ = _chart(first + later, threshold=80)
    assert svg.count("<polyline") == 2
    assert 'class="limit"' in svg
    assert "Fill &lt;level&gt;" in svg and "<level>" not in svg
    points = re.search(r'points="([^"]+)"', svg).group(1).split()
    ys = [float(p.split(",")[1]) for p in points]
    assert ys == sorted(ys, reverse=True)  # rising fill level = y going up the picture


def test_chart_without_data_says_so_and_reduces_long_windows():
    svg, _ = _chart([], empty_text="no data")
    assert "no data" in svg and "<polyline" not in svg
    start = datetime(2026, 10, 30, tzinfo=UTC)
    dense = [(start + timedelta(minutes=15 * i), float(i % 100)) for i in range(30 * 96)]
    svg, _ = _chart(dense, start=start, end=start + timedelta(days=30))
    coords = re.search(r'points="([^"]+)"', svg).group(1).split()
    assert len(coords) <= charts.MAX_BUCKETS
    assert len(svg) < 6000  # 2,880 readings, a few KB on the wire


def test_health_reasons_in_words_with_fallback_to_the_fleets_message():
    """Reasons are translated by code from their record's params; the English message is only a fallback."""
    from fleet.web.wording import reason_text

    de, en = Translator("de"), Translator("en")
    clock = {"silent_s": 3 * 3600 + 600, "expected_s": 3600}
    assert (
        reason_text(en, {"code": "offline", "message": "x", "params": clock})
        == "no uplink for 3 h 10 min, expected every 1 h"
    )
    assert (
        reason_text(de, {"code": "late", "message": "x", "params": clock})
        == "keine Meldung seit 3 Std. 10 Min., erwartet alle 1 Std."
    )
    battery = {"battery_mv": 3310, "days_left": 40.2}
    assert (
        reason_text(en, {"code": "battery_days_left", "params": battery})
        == "battery 3.31 V, about 40 days left"
    )
    assert reason_text(de, {"code": "battery_low", "params": battery}) == "Batterie 3,31 V, noch etwa 40 Tage"
    assert reason_text(
        de, {"code": "config_rejected", "params": {"keys": {"status_every": "out_of_range"}}}
    ) == ("vom Knoten abgelehnt: status_every (Wert außerhalb des Bereichs)")
    # the kinds come from the record, never from taking the (English) message apart
    assert reason_text(
        de, {"code": "alert_open", "message": "egal", "params": {"kinds": ["bin_full", "offline"]}}
    ) == ("Alarm noch offen: Behälter voll, offline")
    assert reason_text(de, {"code": "no_echo", "message": "no echo", "params": {"bin_full_flag": True}}) == (
        "kein Echo: Behälter vielleicht übervoll oder Sensor verdeckt"
    )
    # a code the pages do not know, or a record without its numbers: the fleet's own words
    assert reason_text(de, {"code": "new_thing", "message": "something new", "params": {}}) == "something new"
    assert reason_text(de, {"code": "packet_loss", "message": "12 % lost"}) == "12 % lost"
    assert reason_text(de, {"code": "bin_full", "message": "bin full", "params": {"fill_pct": None}}) == (
        "bin full"
    )
