"""Open-data files: a daily dump of the public readings (CSV and GeoJSON) and a DCAT-AP.de catalogue
record (JSON-LD) that lets Open.NRW / GovData harvest them and the SensorThings API.

The same rule as the SensorThings API decides what is public (members of open-data groups, coordinates
rounded per group, no battery); the dumps are built on request from the readings table, one UTC day each.
"""

import csv
import io
from collections.abc import Iterator
from datetime import UTC, date, datetime, time, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from fleet.models import Device, Reading
from fleet.services.sta.entities import iso, public_nodes
from fleet.settings import Settings

LICENSE = "http://dcat-ap.de/def/licenses/dl-by-de/2.0"  # Datenlizenz Deutschland – Namensnennung 2.0
CSV_COLUMNS = ("node_id", "name", "street", "district", "lat", "lon", "measured_at", "fill_pct",
               "distance_cm", "temperature_c", "humidity_pct", "pressure_hpa")  # fmt: skip
VALUES = CSV_COLUMNS[7:]
FIRST_DAY = date(2020, 1, 1)


class DayError(ValueError):
    pass


def parse_day(text: str) -> date:
    try:
        day = date.fromisoformat(text)
    except ValueError as exc:
        raise DayError(f"not a day: {text!r} (expected YYYY-MM-DD)") from exc
    if not FIRST_DAY <= day <= datetime.now(UTC).date():
        raise DayError(f"{day} is not between {FIRST_DAY} and today (UTC)")
    return day


def _rows(session: Session, day: date) -> Iterator:
    start = datetime.combine(day, time(0), tzinfo=UTC)
    pub = public_nodes()
    query = (
        select(
            Device.id,
            Device.name,
            Device.street,
            Device.district,
            Device.lat,
            Device.lon,
            pub.c.decimals,
            Reading.measured_at,
            *(getattr(Reading, v) for v in VALUES),
        )  # fmt: skip
        .join(pub, pub.c.device_id == Device.id)
        .join(Reading, Reading.device_id == Device.id)
        .where(Reading.measured_at >= start, Reading.measured_at < start + timedelta(days=1))
        .order_by(Device.id, Reading.measured_at)
        .execution_options(yield_per=2000)
    )
    yield from session.execute(query)


def _place(lat: float | None, lon: float | None, decimals: int | None) -> tuple:
    if lat is None or lon is None or decimals is None:
        return lat, lon
    return round(lat, decimals), round(lon, decimals)


def readings_csv(session: Session, day: date) -> Iterator[str]:
    """The day's public readings, one row per reading, in chunks (a day of 1,000 bins is ~10 MB)."""
    buf = io.StringIO()
    out = csv.writer(buf, lineterminator="\n")
    out.writerow(CSV_COLUMNS)
    for n, row in enumerate(_rows(session, day), start=1):
        lat, lon = _place(row.lat, row.lon, row.decimals)
        values = [getattr(row, v) for v in VALUES]
        out.writerow([row.id, row.name, row.street, row.district, lat, lon, iso(row.measured_at), *values])
        if n % 1000 == 0:
            yield buf.getvalue()
            buf.seek(0)
            buf.truncate()
    yield buf.getvalue()


def readings_geojson(session: Session, day: date) -> dict:
    """A FeatureCollection: one Point per public node with the day's readings as a list."""
    features: dict[int, dict] = {}
    for row in _rows(session, day):
        feature = features.get(row.id)
        if feature is None:
            lat, lon = _place(row.lat, row.lon, row.decimals)
            feature = features[row.id] = {
                "type": "Feature",
                "id": row.id,
                "geometry": None if lat is None else {"type": "Point", "coordinates": [lon, lat]},
                "properties": {
                    "name": row.name,
                    "street": row.street,
                    "district": row.district,
                    "readings": [],
                },
            }
        reading = {"measured_at": iso(row.measured_at)}
        reading.update({v: getattr(row, v) for v in VALUES if getattr(row, v) is not None})
        feature["properties"]["readings"].append(reading)
    return {"type": "FeatureCollection", "features": list(features.values())}


def catalog(cfg: Settings, today: date) -> dict:
    """A DCAT-AP.de record: catalogue, one dataset, its distributions (API, yesterday's CSV and GeoJSON)."""
    base = cfg.public_url.rstrip("/")
    day = (today - timedelta(days=1)).isoformat()
    publisher = {"@type": "foaf:Organization", "foaf:name": cfg.open_data_publisher}
    contact = {"@type": "vcard:Organization", "vcard:fn": cfg.open_data_publisher}
    if cfg.open_data_contact_email:
        contact["vcard:hasEmail"] = {"@id": f"mailto:{cfg.open_data_contact_email}"}

    def distribution(key: str, title: str, fmt: str, media: str, url: str, download: bool) -> dict:
        d = {
            "@id": f"{base}/open-data/catalog.jsonld#{key}",
            "@type": "dcat:Distribution",
            "dct:title": {"@value": title, "@language": "de"},
            "dcat:accessURL": {"@id": url},
            "dct:format": {"@id": f"http://publications.europa.eu/resource/authority/file-type/{fmt}"},
            "dcat:mediaType": {"@id": f"https://www.iana.org/assignments/media-types/{media}"},
            "dct:license": {"@id": LICENSE},
            "dcatde:licenseAttributionByText": cfg.open_data_publisher,
        }
        if download:
            d["dcat:downloadURL"] = {"@id": url}
        return d

    dataset = {
        "@id": f"{base}/open-data/catalog.jsonld#sensors",
        "@type": "dcat:Dataset",
        "dct:title": {
            "@value": "Füllstände der Abfallbehälter und Klimadaten (LoRaWAN-Sensoren)",
            "@language": "de",
        },
        "dct:description": {
            "@value": "Füllstand (%), Abstand zum Abfall (cm), Lufttemperatur (°C), relative Luftfeuchte (%) "
            "und Luftdruck (hPa) der öffentlich freigegebenen Sensoren an Abfallbehältern, alle 15 Minuten. "
            "Tägliche Dateien (CSV, GeoJSON) und die OGC SensorThings API 1.1.",
            "@language": "de",
        },
        "dcat:keyword": ["Abfall", "Füllstand", "Klima", "Temperatur", "Sensoren", "LoRaWAN", "SensorThings"],
        "dcat:theme": [{"@id": "http://publications.europa.eu/resource/authority/data-theme/ENVI"}],
        "dct:publisher": publisher,
        "dcat:contactPoint": contact,
        "dct:accessRights": {"@id": "http://publications.europa.eu/resource/authority/access-right/PUBLIC"},
        "dct:accrualPeriodicity": {"@id": "http://publications.europa.eu/resource/authority/frequency/DAILY"},
        "dct:modified": {"@value": today.isoformat(), "@type": "xsd:date"},
        "dcat:distribution": [
            distribution(
                "sta", "OGC SensorThings API 1.1", "JSON", "application/json", f"{base}/sta/v1.1", False
            ),
            distribution(
                "csv",
                f"Messwerte {day} (CSV)",
                "CSV",
                "text/csv",
                f"{base}/open-data/readings/{day}.csv",
                True,
            ),
            distribution(
                "geojson",
                f"Messwerte {day} (GeoJSON)",
                "GEOJSON",
                "application/geo+json",
                f"{base}/open-data/readings/{day}.geojson",
                True,
            ),
        ],  # fmt: skip
    }
    if cfg.open_data_contributor_id:
        dataset["dcatde:contributorID"] = {"@id": cfg.open_data_contributor_id}
    return {
        "@context": {
            "dcat": "http://www.w3.org/ns/dcat#",
            "dct": "http://purl.org/dc/terms/",
            "dcatde": "http://dcat-ap.de/def/dcatde/",
            "foaf": "http://xmlns.com/foaf/0.1/",
            "vcard": "http://www.w3.org/2006/vcard/ns#",
            "xsd": "http://www.w3.org/2001/XMLSchema#",
        },
        "@id": f"{base}/open-data/catalog.jsonld",
        "@type": "dcat:Catalog",
        "dct:title": {"@value": f"Offene Sensordaten – {cfg.open_data_publisher}", "@language": "de"},
        "dct:description": {"@value": "Offene Daten der städtischen LoRaWAN-Sensoren", "@language": "de"},
        "dct:publisher": publisher,
        "dcat:dataset": [dataset],
    }
