"""The read-only OGC SensorThings API 1.1 at /sta/v1.1, through HTTP, on SQLite and PostgreSQL: the
service root, the eight entity sets, navigation, every query option ($top $skip $count $orderby $select
$expand $filter) and @iot.nextLink paging, shaped as the standard's section 9 shows; only public nodes,
no battery; a bad $filter is a 400 that says why. Mirrors ets-sta10's Sensing Core and Filtering classes."""

import math
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

import pytest
from fleet_helpers import add_device, downgrade
from sqlmodel import select

from fleet.models import Device, Reading, Uplink

ROOT = "https://fleet.example/sta/v1.1"
START = datetime(2026, 11, 1, tzinfo=UTC)


def _readings(db, dev_eui: str, n: int, pressure: bool) -> None:  # noqa: ANN001
    device = db.exec(select(Device).where(Device.dev_eui == dev_eui)).one()
    uplink = Uplink(device_id=device.id, dedup_key=f"sta-{dev_eui}", source="chirpstack")
    db.add(uplink)
    db.flush()
    for i in range(n):
        db.add(
            Reading(
                device_id=device.id,
                uplink_id=uplink.id,
                measured_at=START + timedelta(hours=i),
                fill_pct=10 * (i + 1),
                distance_cm=100 - 10 * i,
                temperature_c=5.5 + i,
                humidity_pct=60.0,
                pressure_hpa=1013.2 if pressure else None,
                battery_mv=3600,
            )
        )
    db.commit()


@pytest.fixture
def city(client, tech, admin, db):  # noqa: ANN001, ANN201
    """Markt (BME280: five datastreams) and Ring (SHTC3: four) are public in "Mitte" (rounded to 3
    decimals); Depot's node and a node in no group are not."""
    add_device(
        client,
        tech,
        dev_eui="70B3D57ED0000A01",
        name="Markt",
        street="Marktplatz 1",
        district="Mitte",
        lat=51.4812345,
        lon=7.2165432,
        climate="bme280",
        groups=["Mitte"],
    )
    add_device(
        client,
        tech,
        dev_eui="70B3D57ED0000A02",
        name="Ring",
        street="Ring 2",
        district="Mitte",
        lat=51.49,
        lon=7.22,
        groups=["Mitte"],
    )
    add_device(client, tech, dev_eui="70B3D57ED0000A03", name="Hidden", lat=51.5, lon=7.3, groups=["Depot"])
    add_device(client, tech, dev_eui="70B3D57ED0000A04", name="Loose", lat=51.5, lon=7.3)
    r = client.put(
        "/api/v1/groups/Mitte/open-data", json={"public": True, "coordinate_decimals": 3}, headers=admin
    )
    assert r.status_code == 200 and r.json()["public"] is True
    _readings(db, "70B3D57ED0000A01", 10, pressure=True)
    _readings(db, "70B3D57ED0000A02", 5, pressure=False)
    _readings(db, "70B3D57ED0000A03", 5, pressure=True)
    return {e: db.exec(select(Device.id).where(Device.dev_eui == e)).one() for e in
            ("70B3D57ED0000A01", "70B3D57ED0000A02", "70B3D57ED0000A03")}  # fmt: skip


def get(client, path: str, status: int = 200):  # noqa: ANN001, ANN201
    """GET a path under the root (or a full link the API gave), no sign-in; the JSON body."""
    if path.startswith("https://"):
        parts = urlsplit(path)
        path = parts.path + (f"?{parts.query}" if parts.query else "")
    else:
        path = "/sta/v1.1" + path
    r = client.get(path)
    assert r.status_code == status, r.text[:400]
    return r.json() if r.headers["content-type"].startswith("application/json") else r.text


def test_service_root_lists_the_entity_sets_and_conformance(client):
    body = get(client, "")
    names = [v["name"] for v in body["value"]]
    assert names == ["Things", "Locations", "HistoricalLocations", "Sensors", "ObservedProperties",
                     "Datastreams", "Observations", "FeaturesOfInterest"]  # fmt: skip
    assert body["value"][0]["url"] == ROOT + "/Things"
    assert (
        "http://www.opengis.net/spec/iot_sensing/1.1/req/request-data"
        in body["serverSettings"]["conformance"]
    )


def test_only_public_nodes_appear_and_no_battery(client, city):
    things = get(client, "/Things")["value"]
    assert sorted(t["name"] for t in things) == ["Markt", "Ring"]
    thing = next(t for t in things if t["name"] == "Markt")
    assert thing["@iot.id"] == city["70B3D57ED0000A01"]
    assert thing["@iot.selfLink"] == f"{ROOT}/Things({thing['@iot.id']})"
    assert thing["Datastreams@iot.navigationLink"] == f"{ROOT}/Things({thing['@iot.id']})/Datastreams"
    assert thing["description"] == "Marktplatz 1" and thing["properties"]["district"] == "Mitte"
    get(client, f"/Things({city['70B3D57ED0000A03']})", 404)  # Depot is not public
    streams = get(client, "/Datastreams?$top=100")["value"]
    assert len(streams) == 9  # 5 (BME280 has pressure) + 4 (SHTC3 has none); battery never
    assert not any("batter" in s["name"].lower() for s in streams)
    assert get(client, "/Observations?$count=true&$top=0")["@iot.count"] == 10 * 5 + 5 * 4


def test_location_is_geojson_rounded_per_group(client, city):
    loc = get(client, f"/Things({city['70B3D57ED0000A01']})/Locations")["value"][0]
    assert loc["encodingType"] == "application/geo+json"
    assert loc["location"] == {"type": "Point", "coordinates": [7.217, 51.481]}  # [lon, lat], 3 decimals
    foi = get(client, f"/FeaturesOfInterest({city['70B3D57ED0000A01']})")
    assert foi["feature"]["coordinates"] == [7.217, 51.481]
    hl = get(client, f"/Things({city['70B3D57ED0000A01']})/HistoricalLocations")["value"]
    assert len(hl) == 1 and hl[0]["time"].endswith("Z")


def test_entity_shapes_per_the_standard(client, city):
    ds = get(client, f"/Things({city['70B3D57ED0000A01']})/Datastreams?$filter=ObservedProperty/@iot.id eq 3")
    temp = ds["value"][0]
    assert temp["unitOfMeasurement"] == {"name": "degree Celsius", "symbol": "°C",
                                         "definition": "http://unitsofmeasure.org/ucum.html#Cel"}  # fmt: skip
    assert temp["observationType"].endswith("OM_Measurement")
    for nav in ("Thing", "Sensor", "ObservedProperty", "Observations"):
        assert temp[f"{nav}@iot.navigationLink"] == f"{temp['@iot.selfLink']}/{nav}"
    sensor = get(client, temp["Sensor@iot.navigationLink"])
    assert "BME280" in sensor["name"] and sensor["encodingType"] == "text/html" and sensor["metadata"]
    prop = get(client, temp["ObservedProperty@iot.navigationLink"])
    assert prop["name"] == "Air temperature" and prop["definition"].startswith("http")
    obs = get(client, temp["Observations@iot.navigationLink"] + "?$orderby=phenomenonTime&$top=1")["value"][0]
    assert obs["phenomenonTime"] == "2026-11-01T00:00:00.000Z" and obs["result"] == 5.5
    assert obs["resultTime"] == obs["phenomenonTime"]
    assert get(client, obs["Datastream@iot.navigationLink"])["@iot.id"] == temp["@iot.id"]
    assert get(client, obs["FeatureOfInterest@iot.navigationLink"])["@iot.id"] == city["70B3D57ED0000A01"]
    fill = get(client, f"/Datastreams({city['70B3D57ED0000A01'] * 8 + 1})/Observations?$top=1")["value"][0]
    assert isinstance(fill["result"], int)  # whole numbers stay whole


def test_property_value_and_ref(client, city):
    path = f"/Things({city['70B3D57ED0000A01']})"
    assert get(client, path + "/name") == {"name": "Markt"}
    assert get(client, path + "/name/$value") == "Markt"
    refs = get(client, path + "/Datastreams/$ref")["value"]
    assert len(refs) == 5 and set(refs[0]) == {"@iot.selfLink"}
    get(client, path + "/nosuch", 404)
    get(client, "/Nothings", 404)
    get(client, "/Things(abc)", 404)


def test_top_skip_count_and_next_link_page_through_everything(client, city):
    first = get(client, "/Observations?$top=7&$count=true&$orderby=phenomenonTime desc")
    assert first["@iot.count"] == 70 and len(first["value"]) == 7
    assert first["@iot.nextLink"].startswith(ROOT + "/Observations?")
    seen, page = [], first
    while True:
        seen += [o["@iot.id"] for o in page["value"]]
        if "@iot.nextLink" not in page:
            break
        page = get(client, page["@iot.nextLink"])
    assert len(seen) == 70 and len(set(seen)) == 70  # every observation once, none twice
    times = [
        o["phenomenonTime"]
        for o in get(client, "/Observations?$top=70&$orderby=phenomenonTime desc")["value"]
    ]
    assert times == sorted(times, reverse=True)
    skipped = get(client, "/Observations?$top=5&$skip=3&$orderby=phenomenonTime desc")["value"]
    assert [o["phenomenonTime"] for o in skipped] == times[3:8]
    assert get(client, "/Things?$top=1")["@iot.nextLink"].endswith("$top=1&$skip=1")
    assert "@iot.nextLink" not in get(client, "/Things?$top=2")


def test_orderby_several_properties(client, city):
    streams = get(client, "/Datastreams?$orderby=name desc,@iot.id asc")["value"]
    names = [s["name"] for s in streams]
    assert names == sorted(names, reverse=True)
    obs = get(client, "/Observations?$orderby=result asc,phenomenonTime desc&$top=200")["value"]
    results = [o["result"] for o in obs]
    assert results == sorted(results)


def test_select_keeps_only_what_was_asked(client, city):
    thing = get(client, "/Things?$select=id,name")["value"][0]
    assert set(thing) == {"@iot.id", "name"}
    obs = get(client, "/Observations?$select=result,Datastream&$top=1")["value"][0]
    assert set(obs) == {"result", "Datastream@iot.navigationLink"}
    get(client, "/Things?$select=colour", 400)


def test_expand_nested_with_options(client, city):
    markt = city["70B3D57ED0000A01"]
    inner = "$expand=Observations($top=1;$orderby=phenomenonTime desc;$select=result)"
    body = get(
        client, f"/Things({markt})?$expand=Locations,Datastreams($orderby=name;$top=2;$count=true;{inner})"
    )
    assert body["Locations"][0]["location"]["type"] == "Point"
    assert body["Datastreams@iot.count"] == 5 and len(body["Datastreams"]) == 2
    assert body["Datastreams@iot.nextLink"].startswith(f"{ROOT}/Things({markt})/Datastreams?")
    first = body["Datastreams"][0]
    assert first["name"] <= body["Datastreams"][1]["name"]
    assert len(first["Observations"]) == 1 and set(first["Observations"][0]) == {"result"}
    path = get(client, f"/Datastreams({markt * 8 + 3})?$expand=Thing/Locations,ObservedProperty")
    assert path["Thing"]["name"] == "Markt" and path["Thing"]["Locations"][0]["@iot.id"] == markt
    assert path["ObservedProperty"]["name"] == "Air temperature"
    get(client, "/Things?$expand=Colours", 400)


FILTERS = {  # each $filter with the same predicate in Python
    "result gt 50": lambda r: r > 50,
    "result eq 60": lambda r: r == 60,
    "result ne 60": lambda r: r != 60,
    "result ge 90 and result le 100": lambda r: 90 <= r <= 100,
    "result lt 6 or result eq 1013.2": lambda r: r < 6 or r == 1013.2,
    "not (result lt 1000)": lambda r: not r < 1000,
    "(result gt 10 or result lt 6) and not (result eq 60)": lambda r: (r > 10 or r < 6) and r != 60,
    "result add 10 gt 1020": lambda r: r + 10 > 1020,
    "result sub 10 eq 50": lambda r: r - 10 == 50,
    "result mul 2 eq 120": lambda r: r * 2 == 120,
    "result div 2 eq 50": lambda r: r / 2 == 50,
    "result mod 7 eq 0.5": lambda r: math.fmod(r, 7) == 0.5,
    "-result lt -1000": lambda r: -r < -1000,
}


def test_filter_comparison_logical_arithmetic(client, city):
    """Each filter's answer equals the same predicate applied in Python to every observation."""
    everything = get(client, "/Observations?$top=1000")["value"]
    for expr, check in FILTERS.items():
        want = sorted(o["@iot.id"] for o in everything if check(o["result"]))
        got = sorted(o["@iot.id"] for o in get(client, f"/Observations?$top=1000&$filter={expr}")["value"])
        assert want and got == want, expr


def test_filter_phenomenon_time_range_and_paths(client, city):
    markt = city["70B3D57ED0000A01"]
    window = "phenomenonTime ge 2026-11-01T02:00:00Z and phenomenonTime lt 2026-11-01T05:00:00Z"
    obs = get(client, f"/Datastreams({markt * 8 + 1})/Observations?$filter={window}&$orderby=phenomenonTime")
    assert [o["result"] for o in obs["value"]] == [30, 40, 50]
    flipped = get(
        client, f"/Datastreams({markt * 8 + 1})/Observations?$filter=2026-11-01T07:00:00Z lt phenomenonTime"
    )
    assert [o["result"] for o in flipped["value"]] == [90, 100]
    by_stream = get(client, f"/Observations?$count=true&$filter=Datastream/@iot.id eq {markt * 8 + 2}")
    assert by_stream["@iot.count"] == 10
    by_thing = get(client, "/Observations?$count=true&$top=0&$filter=Datastream/Thing/name eq 'Ring'")
    assert by_thing["@iot.count"] == 20
    units = get(client, "/Datastreams?$filter=unitOfMeasurement/symbol eq 'hPa'")["value"]
    assert [u["name"] for u in units] == ["Markt – Air pressure"]
    hours = get(client, f"/Datastreams({markt * 8 + 1})/Observations?$filter=hour(phenomenonTime) eq 3")[
        "value"
    ]
    assert [o["result"] for o in hours] == [40]


def test_filter_string_functions(client, city):
    def names(expr):  # noqa: ANN001, ANN202
        return sorted(t["name"] for t in get(client, f"/Things?$filter={expr}")["value"])

    assert names("startswith(name,'Ma')") == ["Markt"]
    assert names("endswith(name,'ing')") == ["Ring"]
    assert names("substringof('ark',name)") == ["Markt"]
    assert names("tolower(name) eq 'ring'") == ["Ring"]
    assert names("length(name) eq 4") == ["Ring"]
    assert names("name eq 'O''Brien'") == []  # quotes doubled inside a string literal
    assert names("startswith(name,'%')") == []  # LIKE wildcards are text here


BAD_FILTERS = [
    "result gt", "result gt 5)", "(result gt 5", "colour eq 'red'", "result gt 5 xor result lt 3",
    "__import__('os') eq 1", "result eq 'unterminated", "Datastreams/name eq 'x'", "frobnicate(result) eq 1",
    "startswith(name) eq true", "result eq ~", "not " * 50 + "result eq 1", "x" * 2001,
]  # fmt: skip


def test_bad_filter_is_a_400_that_says_why(client, city):
    for bad in BAD_FILTERS:
        body = get(client, f"/Observations?$filter={bad}", 400)
        assert body["code"] == 400 and body["message"], bad
    message = get(client, "/Observations?$filter=colour eq 'red'", 400)["message"]
    assert "colour" in message and "phenomenonTime" in message  # names what is wrong and what is known
    assert "character 9" in get(client, "/Things?$filter=name eq ~x", 400)["message"]


def test_bad_options_are_400(client, city):
    for query in ("$top=-1", "$top=abc", "$top=100000", "$skip=x", "$count=maybe", "$orderby=result sideways",
                  "$frobnicate=1", "$expand=Datastreams($top=x)"):  # fmt: skip
        assert get(client, f"/Observations?{query}", 400)["message"]


def test_opening_a_group_takes_an_admin(client, city, tech):
    r = client.put("/api/v1/groups/Depot/open-data", json={"public": True}, headers=tech)
    assert r.status_code == 403


def test_migration_0007_adds_closed_groups_and_goes_back(tmp_path):
    """An existing fleet's groups stay closed after the upgrade (open data is an explicit choice)."""
    from sqlalchemy import create_engine, inspect, text

    from fleet import db as fleet_db

    engine = create_engine(f"sqlite:///{tmp_path / 'old.db'}")
    fleet_db.migrate(engine, "0006")
    with engine.begin() as c:
        c.execute(
            text(
                "INSERT INTO device_group (name, description, config, created_at)"
                " VALUES ('Nord', '', '{}', '2026-11-01 00:00:00')"
            )
        )
    fleet_db.migrate(engine, "0007")
    with engine.connect() as c:
        row = c.execute(text("SELECT name, open_data, open_data_decimals FROM device_group")).one()
    assert tuple(row) == ("Nord", 0, None)
    downgrade(engine, "0006")
    assert "open_data" not in {col["name"] for col in inspect(engine).get_columns("device_group")}


def test_busy_api_answers_503_instead_of_queueing_forever(client, app, monkeypatch):
    """Open-data readers share the server with ingest: past the concurrency gate they wait, then get 503."""
    import threading

    from fleet.api.routes import sta as sta_route

    monkeypatch.setattr(sta_route, "GATE_WAIT_S", 0.1)
    app.state.sta_gate = threading.BoundedSemaphore(1)
    app.state.sta_gate.acquire()  # another reader holds the only slot
    busy = get(client, "/Things", 503)
    assert "busy" in busy["message"]
    app.state.sta_gate.release()
    assert get(client, "/Things")["value"] == []
