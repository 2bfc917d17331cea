"""Open311 GeoReport v2 over HTTP, every method in XML and JSON, on SQLite and PostgreSQL.

Shapes are checked against the standard's text (wiki.open311.org/GeoReport_v2, as kept in
github.com/open311/open311.github.io GeoReport_v2/index.md): element names and order of a service, a
service definition, a POST answer, a service request, and the errors document."""

import xml.etree.ElementTree as ET
from datetime import UTC, datetime, timedelta

import pytest
from fleet_helpers import add_device

# GeoReport v2 "GET Service Requests" response fields, in the standard's order.
REQUEST_FIELDS = [
    "service_request_id",
    "status",
    "status_notes",
    "service_name",
    "service_code",
    "description",
    "agency_responsible",
    "service_notice",
    "requested_datetime",
    "updated_datetime",
    "expected_datetime",
    "address",
    "address_id",
    "zipcode",
    "lat",
    "long",
    "media_url",
]
SERVICE_FIELDS = ["service_code", "service_name", "description", "metadata", "type", "keywords", "group"]
CODES = ["bin_full", "bin_damaged", "lid_problem", "smell_pests", "dumped_waste", "sensor_damaged"]
EUI = "70B3D57ED0000311"


@pytest.fixture
def bin_eui(client, tech) -> str:  # noqa: ANN001
    add_device(client, tech, dev_eui=EUI, lat=51.48, lon=7.21, street="Kortumstraße 1", district="Mitte")
    return EUI


def xml_of(response) -> ET.Element:  # noqa: ANN001
    assert response.headers["content-type"] == "text/xml; charset=utf-8"
    assert response.content.startswith(b'<?xml version="1.0" encoding="utf-8"?>')
    return ET.fromstring(response.content)


def file(client, viewer, fmt="json", **fields):  # noqa: ANN001, ANN003, ANN201
    key = viewer["Authorization"].split()[1]
    body = {"api_key": key, "service_code": "bin_full", "attribute[dev_eui]": EUI, **fields}
    return client.post(f"/open311/v2/requests.{fmt}", data=body)


def test_discovery_json_and_xml(client) -> None:  # noqa: ANN001
    doc = client.get("/open311/v2/discovery.json").json()
    assert set(doc) == {"changeset", "contact", "key_service", "endpoints"}
    (endpoint,) = doc["endpoints"]
    assert endpoint["specification"] == "http://wiki.open311.org/GeoReport_v2"
    assert endpoint["url"] == "https://fleet.example/open311/v2"
    assert endpoint["type"] in ("production", "test")
    assert endpoint["formats"] == ["text/xml", "application/json"]
    root = xml_of(client.get("/open311/v2/discovery.xml"))
    assert root.tag == "discovery"
    assert [f.text for f in root.find("endpoints/endpoint/formats")] == ["text/xml", "application/json"]
    assert xml_of(client.get("/open311/v2/discovery")).tag == "discovery"  # no suffix: XML, the required one


def test_services_list_json_and_xml(client) -> None:  # noqa: ANN001
    services = client.get("/open311/v2/services.json").json()
    assert [s["service_code"] for s in services] == CODES
    assert all(list(s) == SERVICE_FIELDS for s in services)
    assert all(s["metadata"] is True and s["type"] == "realtime" for s in services)
    root = xml_of(client.get("/open311/v2/services.xml"))
    assert root.tag == "services"
    assert [[c.tag for c in s] for s in root] == [SERVICE_FIELDS] * len(CODES)
    assert root.find("service/metadata").text == "true"
    english = client.get("/open311/v2/services.json?locale=en").json()
    assert english[0]["service_name"] == "Full or overflowing"
    assert services[0]["service_name"] == "Voll oder überfüllt"


def test_service_definition_json_and_xml(client) -> None:  # noqa: ANN001
    definition = client.get("/open311/v2/services/bin_full.json").json()
    assert definition["service_code"] == "bin_full"
    (attr,) = definition["attributes"]
    assert attr["code"] == "dev_eui" and attr["datatype"] == "string" and attr["required"] is True
    assert attr["variable"] is True and attr["order"] == 1
    root = xml_of(client.get("/open311/v2/services/sensor_damaged.xml"))
    assert root.tag == "service_definition"
    assert root.find("service_code").text == "sensor_damaged"
    assert root.find("attributes/attribute/code").text == "dev_eui"
    assert root.find("attributes/attribute/datatype").text == "string"


def test_unknown_service_is_404_in_the_error_format(client) -> None:  # noqa: ANN001
    r = client.get("/open311/v2/services/potholes.json")
    assert r.status_code == 404
    assert r.json() == [{"code": 404, "description": "service_code 'potholes' not found"}]
    r = client.get("/open311/v2/services/potholes.xml")
    assert r.status_code == 404
    root = xml_of(r)
    assert root.tag == "errors" and [c.tag for c in root.find("error")] == ["code", "description"]
    assert root.find("error/code").text == "404"


def test_post_request_json(client, viewer, bin_eui) -> None:  # noqa: ANN001
    r = file(client, viewer, description="Läuft über", email="a@b.de", lat="51.4", long="7.2")
    assert r.status_code == 200, r.text
    (answer,) = r.json()
    assert list(answer) == ["service_request_id", "service_notice", "account_id"]
    assert isinstance(answer["service_request_id"], int)
    got = client.get(f"/open311/v2/requests/{answer['service_request_id']}.json").json()
    (req,) = got
    assert list(req) == REQUEST_FIELDS
    assert req["status"] == "open" and req["service_code"] == "bin_full"
    assert req["description"] == "Läuft über"
    assert (req["lat"], req["long"]) == (51.48, 7.21)  # the bin's own place wins over the client's
    assert req["address"] == "Kortumstraße 1, Mitte"
    assert "a@b.de" not in client.get("/open311/v2/requests.json").text  # e-mails are never shown
    assert datetime.fromisoformat(req["requested_datetime"]).tzinfo is not None  # ISO 8601 with offset


def test_post_request_xml(client, viewer, bin_eui) -> None:  # noqa: ANN001
    r = file(client, viewer, fmt="xml", service_code="lid_problem")
    assert r.status_code == 200
    root = xml_of(r)
    assert root.tag == "service_requests"
    assert [c.tag for c in root.find("request")] == ["service_request_id", "service_notice", "account_id"]
    ref = root.find("request/service_request_id").text
    one = xml_of(client.get(f"/open311/v2/requests/{ref}.xml"))
    assert one.tag == "service_requests"
    assert [c.tag for c in one.find("request")] == REQUEST_FIELDS
    assert one.find("request/service_code").text == "lid_problem"
    assert one.find("request/status").text == "open"


def test_post_needs_a_valid_api_key(client, viewer, bin_eui) -> None:  # noqa: ANN001
    body = {"service_code": "bin_full", "attribute[dev_eui]": EUI}
    r = client.post("/open311/v2/requests.json", data=body)
    assert r.status_code == 403 and r.json()[0]["code"] == 403
    r = client.post("/open311/v2/requests.xml", data={**body, "api_key": "not-a-key"})
    assert r.status_code == 403
    assert "api_key" in xml_of(r).find("error/description").text
    assert client.get("/open311/v2/requests.json").json() == []  # nothing was filed


@pytest.mark.parametrize(
    ("fields", "status", "words"),
    [
        ({"service_code": ""}, 400, "service_code was not provided"),
        ({"service_code": "graffiti"}, 404, "service_code 'graffiti' not found"),
        ({"attribute[dev_eui]": ""}, 400, "attribute[dev_eui] was not provided"),
        ({"attribute[dev_eui]": "0011223344556677"}, 400, "is not a bin of this city"),
        ({"description": "x" * 4001}, 400, "longer than 4000"),
        ({"email": "not-an-address"}, 400, "is not an e-mail address"),
        ({"lat": "51.4"}, 400, "lat and long must be sent together"),
        ({"lat": "abc", "long": "7"}, 400, "is not a number"),
    ],
)
def test_post_bad_input_is_a_clear_error(client, viewer, bin_eui, fields, status, words) -> None:  # noqa: ANN001
    r = file(client, viewer, **fields)
    assert r.status_code == status
    assert words in r.json()[0]["description"]


def test_the_dev_eui_travels_as_an_extension(client, viewer, bin_eui) -> None:  # noqa: ANN001
    file(client, viewer, **{"attribute[dev_eui]": "70-b3-d5-7e-d0-00-03-11"})  # as printed, with dashes
    (plain,) = client.get("/open311/v2/requests.json").json()
    assert "extended_attributes" not in plain  # strict clients get the standard's fields only
    (extended,) = client.get("/open311/v2/requests.json?extensions=true").json()
    assert extended["extended_attributes"] == {"dev_eui": EUI}
    root = xml_of(client.get("/open311/v2/requests.xml?extensions=true"))
    assert root.find("request/extended_attributes/dev_eui").text == EUI


def test_get_requests_filters_json_and_xml(client, viewer, bin_eui, db) -> None:  # noqa: ANN001
    from fleet.models import CitizenReport

    ids = [
        file(client, viewer, service_code=c).json()[0]["service_request_id"]
        for c in ("bin_full", "smell_pests")
    ]
    old = db.get(CitizenReport, ids[0])
    old.requested_at = datetime.now(UTC) - timedelta(days=120)
    db.add(old)
    db.commit()
    # Default: the last 90 days.
    assert [r["service_request_id"] for r in client.get("/open311/v2/requests.json").json()] == [ids[1]]
    # By id: overrides every other argument, several comma separated.
    by_id = client.get(f"/open311/v2/requests.json?service_request_id={ids[0]},{ids[1]}&status=closed").json()
    assert sorted(r["service_request_id"] for r in by_id) == sorted(ids)
    start = (datetime.now(UTC) - timedelta(days=125)).strftime("%Y-%m-%dT%H:%M:%SZ")
    end = (datetime.now(UTC) - timedelta(days=60)).strftime("%Y-%m-%dT%H:%M:%SZ")
    ranged = client.get(f"/open311/v2/requests.json?start_date={start}&end_date={end}").json()
    assert [r["service_request_id"] for r in ranged] == [ids[0]]
    assert client.get("/open311/v2/requests.json?service_code=bin_full").json() == []
    root = xml_of(client.get("/open311/v2/requests.xml?service_code=smell_pests,bin_full&status=open"))
    assert [r.find("service_request_id").text for r in root] == [str(ids[1])]
    assert xml_of(client.get("/open311/v2/requests.xml?status=closed")).findall("request") == []


@pytest.mark.parametrize(
    ("query", "words"),
    [
        ("start_date=yesterday", "is not a w3 date-time"),
        ("start_date=2026-01-01T00:00:00Z&end_date=2026-06-01T00:00:00Z", "more than 90 days"),
        ("start_date=2026-06-01T00:00:00Z&end_date=2026-01-01T00:00:00Z", "before start_date"),
        ("status=pending", "open or closed"),
        ("service_request_id=1,x", "must be numbers"),
    ],
)
def test_get_requests_bad_arguments(client, query, words) -> None:  # noqa: ANN001
    r = client.get(f"/open311/v2/requests.json?{query}")
    assert r.status_code == 400 and words in r.json()[0]["description"]
    assert client.get(f"/open311/v2/requests.xml?{query}").status_code == 400


def test_unknown_request_and_format(client) -> None:  # noqa: ANN001
    r = client.get("/open311/v2/requests/999999.json")
    assert r.status_code == 404 and r.json()[0]["code"] == 404
    assert xml_of(client.get("/open311/v2/requests/999999.xml")).tag == "errors"
    r = client.get("/open311/v2/services.yaml")
    assert r.status_code == 400 and xml_of(r).find("error/code").text == "400"


def test_jurisdiction_is_checked_when_configured(app, client) -> None:  # noqa: ANN001
    assert client.get("/open311/v2/services.json?jurisdiction_id=anything").status_code == 200
    app.state.settings.open311_jurisdiction = "bochum.de"
    assert client.get("/open311/v2/services.json?jurisdiction_id=bochum.de").status_code == 200
    r = client.get("/open311/v2/services.json?jurisdiction_id=bonn.de")
    assert r.status_code == 404 and "bonn.de" in r.json()[0]["description"]


def test_per_bin_limit_applies_to_api_clients(app, client, viewer, bin_eui) -> None:  # noqa: ANN001
    app.state.settings.report_limit_per_bin_hour = 2
    assert file(client, viewer).status_code == 200
    assert file(client, viewer).status_code == 200
    r = file(client, viewer, fmt="xml")
    assert r.status_code == 429 and xml_of(r).find("error/code").text == "429"
