"""Open-data files through HTTP: the daily CSV and GeoJSON dumps hold exactly the public readings (rounded
places, no battery), and the DCAT-AP.de record parses as RDF with rdflib (a JSON-LD reader we did not
write) into a catalogue whose distributions carry the dl-by-de/2.0 licence."""

import csv
import io
import json

import pytest
from test_sta import city  # noqa: F401  (the shared fixture: two public nodes, one closed)

rdflib = pytest.importorskip("rdflib")
DCAT = rdflib.Namespace("http://www.w3.org/ns/dcat#")
DCT = rdflib.Namespace("http://purl.org/dc/terms/")
LICENSE = rdflib.URIRef("http://dcat-ap.de/def/licenses/dl-by-de/2.0")


def test_daily_csv_holds_the_public_readings_of_that_day(client, city):  # noqa: F811
    r = client.get("/open-data/readings/2026-11-01.csv")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(r.text)))
    assert len(rows) == 10 + 5  # Markt's ten and Ring's five; Depot's node is not public
    assert {row["name"] for row in rows} == {"Markt", "Ring"}
    assert "battery_mv" not in rows[0]
    markt = [row for row in rows if row["name"] == "Markt"]
    assert (markt[0]["lat"], markt[0]["lon"]) == ("51.481", "7.217")  # the group's rounding
    assert markt[0]["measured_at"] == "2026-11-01T00:00:00.000Z" and markt[0]["fill_pct"] == "10"
    assert markt[-1]["pressure_hpa"] == "1013.2"
    sta = client.get(
        "/sta/v1.1/Observations?$count=true&$top=0&$filter=Datastream/ObservedProperty/@iot.id eq 1"
    )
    assert sta.json()["@iot.count"] == sum(1 for row in rows if row["fill_pct"])  # same rule as the API
    empty = client.get("/open-data/readings/2026-10-31.csv")
    assert empty.status_code == 200 and empty.text.strip().count("\n") == 0  # header only


def test_daily_geojson_is_one_point_per_public_node(client, city):  # noqa: F811
    r = client.get("/open-data/readings/2026-11-01.geojson")
    assert r.status_code == 200 and r.headers["content-type"] == "application/geo+json"
    body = r.json()
    assert body["type"] == "FeatureCollection" and len(body["features"]) == 2
    markt = next(f for f in body["features"] if f["properties"]["name"] == "Markt")
    assert markt["geometry"] == {"type": "Point", "coordinates": [7.217, 51.481]}
    assert len(markt["properties"]["readings"]) == 10
    assert all("battery_mv" not in reading for reading in markt["properties"]["readings"])


def test_bad_days_are_400(client):
    for day in ("2026-13-01", "yesterday", "1999-01-01", "2999-01-01"):
        r = client.get(f"/open-data/readings/{day}.csv")
        assert r.status_code == 400 and day in r.json()["detail"], r.text


def test_dcat_ap_de_record_parses_as_rdf_with_the_licence(client):
    r = client.get("/open-data/catalog.jsonld")
    assert r.status_code == 200 and r.headers["content-type"] == "application/ld+json"
    graph = rdflib.Graph().parse(data=r.text, format="json-ld")
    catalogs = list(graph.subjects(rdflib.RDF.type, DCAT.Catalog))
    datasets = list(graph.subjects(rdflib.RDF.type, DCAT.Dataset))
    assert len(catalogs) == 1 and len(datasets) == 1
    dataset = datasets[0]
    assert (catalogs[0], DCAT.dataset, dataset) in graph
    assert graph.value(dataset, DCT.title) and graph.value(dataset, DCT.description)
    assert graph.value(graph.value(dataset, DCT.publisher), rdflib.FOAF.name) == rdflib.Literal("Stadt")
    distributions = list(graph.objects(dataset, DCAT.distribution))
    assert len(distributions) == 3
    assert all((d, DCT.license, LICENSE) in graph for d in distributions)
    urls = {str(graph.value(d, DCAT.accessURL)) for d in distributions}
    assert "https://fleet.example/sta/v1.1" in urls
    csv_url = next(u for u in urls if u.endswith(".csv"))
    path = csv_url.removeprefix("https://fleet.example")
    assert client.get(path).status_code == 200  # the record points at files that exist
    assert json.loads(r.text)["@context"]["dcatde"] == "http://dcat-ap.de/def/dcatde/"
