"""The public nodes as FIWARE Smart Data Models entities (NGSI-LD, normalized), for a city platform that
speaks NGSI-LD (an Orion-LD / Scorpio broker, a FIWARE-based urban data platform) rather than SensorThings.

Same rule as the SensorThings API and the dumps (fleet.services.sta.entities.public_nodes): members of
open-data groups only, coordinates rounded per group, battery never shown. One entity per public node and
model, carrying its newest reading.

Attribute names and units follow the Smart Data Models schema texts:
- WasteContainer (smart-data-models/dataModel.WasteManagement, WasteContainer/doc/spec.md and schema.json):
  `fillingLevel` "between 0 and 1" (a ratio, not %), `location` GeoJSON, `dateLastEmptying`,
  `temperature` (°C), `address` (schema.org PostalAddress), `name`.
- WeatherObserved (smart-data-models/dataModel.Weather, WeatherObserved/doc/spec.md): `dateObserved`,
  `location`, `temperature` (°C), `relativeHumidity` "between 0 and 1", `atmosphericPressure` in hPa.
"""

from sqlalchemy import and_, func, select
from sqlalchemy.orm import Session

from fleet.models import Alert, Device, Reading
from fleet.services.sta.entities import iso, public_nodes

NGSI_LD_CORE = "https://uri.etsi.org/ngsi-ld/v1/ngsi-ld-core-context.jsonld"
CONTEXTS = {
    "WasteContainer": "https://raw.githubusercontent.com/smart-data-models/dataModel.WasteManagement/master/context.jsonld",
    "WeatherObserved": "https://raw.githubusercontent.com/smart-data-models/dataModel.Weather/master/context.jsonld",
}
MODELS = tuple(CONTEXTS)


def _prop(value, observed_at: str | None = None, unit: str | None = None) -> dict:  # noqa: ANN001
    out: dict = {"type": "Property", "value": value}
    if observed_at:
        out["observedAt"] = observed_at
    if unit:
        out["unitCode"] = unit  # UN/CEFACT common codes, as NGSI-LD asks: CEL °C, A97 hPa
    return out


def _date(moment) -> dict:  # noqa: ANN001
    return {"type": "Property", "value": {"@type": "DateTime", "@value": iso(moment)}}


def _newest(session: Session, column) -> dict[int, tuple]:  # noqa: ANN001
    """Each public node's newest reading that has `column`, with the node and its rounding."""
    pub = public_nodes()
    newest = (
        select(Reading.device_id, func.max(Reading.measured_at).label("at"))
        .join(pub, pub.c.device_id == Reading.device_id)
        .where(column.is_not(None))
        .group_by(Reading.device_id)
        .subquery("newest")
    )
    rows = session.execute(
        select(Device, Reading, pub.c.decimals)
        .join(pub, pub.c.device_id == Device.id)
        .join(newest, newest.c.device_id == Device.id)
        .join(Reading, and_(Reading.device_id == Device.id, Reading.measured_at == newest.c.at))
        .order_by(Device.id, Reading.id)
    ).all()
    return {device.id: (device, reading, decimals) for device, reading, decimals in rows}


def _common(model: str, device: Device, decimals: int | None) -> dict:
    entity: dict = {"id": f"urn:ngsi-ld:{model}:kumpel-{device.id}", "type": model}
    entity["name"] = _prop(device.name or f"Node {device.id}")
    if device.lat is not None and device.lon is not None:
        lat, lon = device.lat, device.lon
        if decimals is not None:
            lat, lon = round(lat, decimals), round(lon, decimals)
        entity["location"] = {"type": "GeoProperty", "value": {"type": "Point", "coordinates": [lon, lat]}}
    address = {"streetAddress": device.street, "addressLocality": device.district}
    address = {k: v for k, v in address.items() if v}
    if address:
        entity["address"] = _prop(address)
    return entity


def waste_containers(session: Session) -> list[dict]:
    """One WasteContainer per public bin with a fill reading. `dateLastEmptying` is when its full alarm
    last closed (the fill sensor saw it emptied); absent when the fleet has not seen an emptying."""
    emptied = dict(
        session.execute(
            select(Alert.device_id, func.max(Alert.closed_at))
            .where(Alert.kind == "bin_full", Alert.closed_at.is_not(None))
            .group_by(Alert.device_id)
        ).all()
    )
    out = []
    for device, reading, decimals in _newest(session, Reading.fill_pct).values():
        at = iso(reading.measured_at)
        entity = _common("WasteContainer", device, decimals)
        entity["fillingLevel"] = _prop(round(reading.fill_pct / 100, 2), at)
        if reading.temperature_c is not None:
            entity["temperature"] = _prop(reading.temperature_c, at, "CEL")
        if emptied.get(device.id) is not None:
            entity["dateLastEmptying"] = _date(emptied[device.id])
        entity["@context"] = [CONTEXTS["WasteContainer"], NGSI_LD_CORE]
        out.append(entity)
    return out


def weather_observed(session: Session) -> list[dict]:
    """One WeatherObserved per public node with a climate sensor: its newest temperature reading."""
    out = []
    for device, reading, decimals in _newest(session, Reading.temperature_c).values():
        at = iso(reading.measured_at)
        entity = _common("WeatherObserved", device, decimals)
        entity["dateObserved"] = _date(reading.measured_at)
        entity["temperature"] = _prop(reading.temperature_c, at, "CEL")
        if reading.humidity_pct is not None:
            entity["relativeHumidity"] = _prop(round(reading.humidity_pct / 100, 3), at)
        if reading.pressure_hpa is not None:
            entity["atmosphericPressure"] = _prop(reading.pressure_hpa, at, "A97")
        entity["@context"] = [CONTEXTS["WeatherObserved"], NGSI_LD_CORE]
        out.append(entity)
    return out


ENTITIES = {"WasteContainer": waste_containers, "WeatherObserved": weather_observed}
