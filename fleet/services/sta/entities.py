"""The fleet as SensorThings entities: each entity type is an SQL source with one column per property.

Thing = a public node; Location, HistoricalLocation and FeatureOfInterest = its place (one each, same id);
Sensor = a sensor model the firmware drives; ObservedProperty = one of five public quantities; Datastream
= (node, quantity); Observation = (reading, quantity). Ids of Datastreams and Observations pack the
quantity in: id = node id x 8 + kind, id = reading id x 8 + kind, so a lookup by id is an index lookup on
the fleet's own keys. Battery voltage is deliberately not a kind: it is not public.
"""

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cache
from typing import Any

from sqlalchemy import (
    Float,
    String,
    and_,
    case,
    cast,
    false,
    func,
    literal,
    literal_column,
    select,
    true,
    union_all,
)
from sqlalchemy.sql import ColumnElement, Select

from fleet.models import Device, Group, GroupMember, Reading

ID_STRIDE = 8  # kinds 1..5 fit; the rest stay free for later quantities
OM_MEASUREMENT = "http://www.opengis.net/def/observationType/OGC-OM/2.0/OM_Measurement"
UCUM = "http://unitsofmeasure.org/ucum.html#"
GEOJSON = "application/geo+json"


@dataclass(frozen=True)
class Kind:
    """A public quantity: its Reading column, the sensor family that measures it, and its unit (UCUM)."""

    id: int
    column: Any
    family: str  # ultrasonic | climate
    name: str
    definition: str
    description: str
    unit: tuple[str, str, str]  # name, symbol, UCUM definition
    whole: bool = False  # stored as whole numbers: shown without ".0"


KINDS = (
    Kind(1, Reading.fill_pct, "ultrasonic", "Fill level",
         "https://smartdatamodels.org/dataModel.WasteManagement/fillingLevel",
         "How full the bin is, from the lid's distance to the waste and the bin's height",
         ("percent", "%", UCUM + "%"), whole=True),
    Kind(2, Reading.distance_cm, "ultrasonic", "Distance to waste",
         "http://qudt.org/vocab/quantitykind/Distance",
         "Distance from the sensor under the lid to the top of the waste",
         ("centimetre", "cm", UCUM + "cm"), whole=True),
    Kind(3, Reading.temperature_c, "climate", "Air temperature",
         "http://qudt.org/vocab/quantitykind/Temperature", "Air temperature at the bin",
         ("degree Celsius", "°C", UCUM + "Cel")),
    Kind(4, Reading.humidity_pct, "climate", "Relative humidity",
         "http://qudt.org/vocab/quantitykind/RelativeHumidity", "Relative humidity of the air at the bin",
         ("percent", "%", UCUM + "%")),
    Kind(5, Reading.pressure_hpa, "climate", "Air pressure",
         "http://qudt.org/vocab/quantitykind/AtmosphericPressure", "Barometric air pressure at the bin",
         ("hectopascal", "hPa", UCUM + "hPa")),
)  # fmt: skip
KIND = {k.id: k for k in KINDS}

# The sensor models the firmware drives (protocols.hardware), with their manufacturers' product pages.
SENSORS = (
    (1, "a02yyuw", "ultrasonic", "DFRobot A02YYUW waterproof ultrasonic distance sensor",
     "https://wiki.dfrobot.com/_A02YYUW_Waterproof_Ultrasonic_Sensor_SKU_SEN0311"),
    (2, "jsn_sr04t", "ultrasonic", "JSN-SR04T waterproof ultrasonic distance sensor",
     "https://www.jahankitshop.com/getattach.aspx?id=4635&Type=Product"),
    (3, "rak12007", "ultrasonic", "RAKwireless RAK12007 WisBlock ultrasonic sensor",
     "https://docs.rakwireless.com/product-categories/wisblock/rak12007/datasheet/"),
    (11, "shtc3", "climate", "Sensirion SHTC3 temperature and humidity sensor",
     "https://sensirion.com/products/catalog/SHTC3"),
    (12, "sht4x", "climate", "Sensirion SHT4x temperature and humidity sensor",
     "https://sensirion.com/products/catalog/SHT40"),
    (13, "bme280", "climate", "Bosch BME280 temperature, humidity and pressure sensor",
     "https://www.bosch-sensortec.com/products/environmental-sensors/humidity-sensors-bme280/"),
)  # fmt: skip
PRESSURE_MODELS = ("bme280",)  # the only climate sensor with a barometer


@dataclass(frozen=True)
class Link:
    target: str  # entity set name
    many: bool
    pairs: tuple[tuple[str, str], ...]  # (column here, column there) that must be equal


@dataclass
class EntityType:
    name: str
    plural: str
    source: Callable[[], Select]
    props: dict[str, str]  # STA property (path) -> source column, for $filter, $orderby
    render: Callable[[Any], dict]
    links: dict[str, Link] = field(default_factory=dict)
    id_match: Callable[[Any, int], ColumnElement] | None = None

    def match_id(self, src: Any, ident: int) -> ColumnElement:
        return self.id_match(src, ident) if self.id_match else src.c.id == ident


def public_nodes():  # noqa: ANN201
    """Nodes in at least one open-data group, with the coarsest rounding any of those groups asks for."""
    return (
        select(GroupMember.device_id.label("device_id"), func.min(Group.open_data_decimals).label("decimals"))
        .join(Group, Group.id == GroupMember.group_id)
        .where(Group.open_data == true())
        .group_by(GroupMember.device_id)
        .subquery("pub")
    )


def _thing_name():  # noqa: ANN202
    return case((Device.name != "", Device.name), else_=literal("Node ") + cast(Device.id, String))


def _sensor_id():  # noqa: ANN202
    return case(*((Device.ultrasonic == m, i) for i, m, fam, _, _ in SENSORS if fam == "ultrasonic"), else_=0)


def _climate_sensor_id():  # noqa: ANN202
    return case(*((Device.climate == m, i) for i, m, fam, _, _ in SENSORS if fam == "climate"), else_=0)


def _fitted(kind: Kind) -> ColumnElement:
    if kind.family == "ultrasonic":
        return Device.ultrasonic.is_not(None)
    if kind.id == 5:
        return Device.climate.in_(PRESSURE_MODELS)
    return Device.climate.is_not(None)


def _num(n: int) -> Any:
    """An integer written into the SQL (not a parameter), so the planner can drop union branches."""
    return literal_column(str(int(n)))


# --- sources --------------------------------------------------------------------------------------------
@cache  # built once: SQLAlchemy then reuses its compiled form
def things() -> Select:
    pub = public_nodes()
    return select(
        Device.id.label("id"),
        _thing_name().label("name"),
        Device.street.label("description"),
        Device.district.label("_district"),
        Device.hardware_model.label("_model"),
    ).join(pub, pub.c.device_id == Device.id)


def _places(with_coordinates: bool) -> Select:
    pub = public_nodes()
    query = select(
        Device.id.label("id"),
        _thing_name().label("name"),
        Device.street.label("description"),
        literal(GEOJSON, String).label("encodingType"),
        Device.lat.label("_lat"),
        Device.lon.label("_lon"),
        pub.c.decimals.label("_decimals"),
        Device.created_at.label("time"),
        Device.id.label("_thing"),
    ).join(pub, pub.c.device_id == Device.id)
    if with_coordinates:
        query = query.where(Device.lat.is_not(None), Device.lon.is_not(None))
    return query


@cache  # built once: SQLAlchemy then reuses its compiled form
def locations() -> Select:
    return _places(True)


@cache  # built once: SQLAlchemy then reuses its compiled form
def historical_locations() -> Select:
    return _places(True)


@cache  # built once: SQLAlchemy then reuses its compiled form
def features() -> Select:
    return _places(False)


@cache  # built once: SQLAlchemy then reuses its compiled form
def sensors() -> Select:
    return union_all(
        *(
            select(
                _num(i).label("id"),
                literal(description, String).label("name"),
                literal(f"{description} ({model})", String).label("description"),
                literal("text/html", String).label("encodingType"),
                literal(url, String).label("metadata"),
            )
            for i, model, _fam, description, url in SENSORS
        )
    )


@cache  # built once: SQLAlchemy then reuses its compiled form
def observed_properties() -> Select:
    return union_all(
        *(
            select(
                _num(k.id).label("id"),
                literal(k.name, String).label("name"),
                literal(k.definition, String).label("definition"),
                literal(k.description, String).label("description"),
            )
            for k in KINDS
        )
    )


@cache  # built once: SQLAlchemy then reuses its compiled form
def datastreams() -> Select:
    branches = []
    for k in KINDS:
        pub = public_nodes()
        sensor = _sensor_id() if k.family == "ultrasonic" else _climate_sensor_id()
        branches.append(
            select(
                (Device.id * ID_STRIDE + k.id).label("id"),
                (_thing_name() + literal(" – " + k.name, String)).label("name"),
                literal(k.description, String).label("description"),
                literal(OM_MEASUREMENT, String).label("observationType"),
                literal(k.unit[0], String).label("uom_name"),
                literal(k.unit[1], String).label("uom_symbol"),
                literal(k.unit[2], String).label("uom_definition"),
                Device.id.label("_thing"),
                Device.id.label("_device"),
                _num(k.id).label("_kind"),
                sensor.label("_sensor"),
            )
            .join(pub, pub.c.device_id == Device.id)
            .where(_fitted(k))
        )
    return union_all(*branches)


@cache  # built once: SQLAlchemy then reuses its compiled form
def observations() -> Select:
    branches = []
    for k in KINDS:
        pub = public_nodes()
        branches.append(
            select(
                (Reading.id * ID_STRIDE + k.id).label("id"),
                Reading.measured_at.label("phenomenonTime"),
                Reading.measured_at.label("resultTime"),
                cast(k.column, Float).label("result"),
                (Reading.device_id * ID_STRIDE + k.id).label("_datastream"),
                Reading.device_id.label("_device"),
                _num(k.id).label("_kind"),
                Reading.id.label("_reading"),
            )
            .join(pub, pub.c.device_id == Reading.device_id)
            .join(Device, Device.id == Reading.device_id)
            .where(k.column.is_not(None), _fitted(k))
        )
    return union_all(*branches)


def _split_id(src: Any, ident: int, column: str) -> ColumnElement:
    kind = ident % ID_STRIDE
    if kind not in KIND:
        return false()
    return and_(src.c[column] == ident // ID_STRIDE, src.c._kind == kind)


# --- shapes ---------------------------------------------------------------------------------------------
def iso(moment: Any) -> str | None:
    """ISO 8601 in UTC with a Z (SQLite hands back naive datetimes: the fleet stores UTC only)."""
    if moment is None:
        return None
    if isinstance(moment, str):  # a union over SQLite may hand back the stored text
        from datetime import datetime

        moment = datetime.fromisoformat(moment)
    text = moment.replace(tzinfo=None).isoformat(timespec="milliseconds")
    return text + "Z"


def _point(row: Any) -> dict | None:
    if row._lat is None or row._lon is None:
        return None
    lat, lon = row._lat, row._lon
    if row._decimals is not None:
        lat, lon = round(lat, row._decimals), round(lon, row._decimals)
    return {"type": "Point", "coordinates": [lon, lat]}


def _thing(row: Any) -> dict:
    properties = {"district": row._district} if row._district else {}
    if row._model:
        properties["hardware"] = row._model
    return {"name": row.name, "description": row.description or "", "properties": properties}


def _location(row: Any) -> dict:
    return {
        "name": row.name,
        "description": row.description or "",
        "encodingType": GEOJSON,
        "location": _point(row),
    }


def _feature(row: Any) -> dict:
    return {
        "name": row.name,
        "description": row.description or "",
        "encodingType": GEOJSON,
        "feature": _point(row),
    }


def _datastream(row: Any) -> dict:
    return {
        "name": row.name,
        "description": row.description,
        "unitOfMeasurement": {
            "name": row.uom_name,
            "symbol": row.uom_symbol,
            "definition": row.uom_definition,
        },
        "observationType": row.observationType,
    }


def _observation(row: Any) -> dict:
    result = row.result
    if result is not None and KIND[int(row._kind)].whole:
        result = int(result)
    return {"phenomenonTime": iso(row.phenomenonTime), "resultTime": iso(row.resultTime), "result": result}


def _plain(*names: str) -> Callable[[Any], dict]:
    return lambda row: {n: getattr(row, n) for n in names}


def _props(*names: str, **paths: str) -> dict[str, str]:
    return {"@iot.id": "id", **{n: n for n in names}, **paths}


ENTITIES: dict[str, EntityType] = {
    e.plural: e
    for e in (
        EntityType(
            "Thing", "Things", things, _props("name", "description"), _thing,
            {
                "Locations": Link("Locations", True, (("id", "id"),)),
                "HistoricalLocations": Link("HistoricalLocations", True, (("id", "_thing"),)),
                "Datastreams": Link("Datastreams", True, (("id", "_thing"),)),
            },
        ),
        EntityType(
            "Location", "Locations", locations, _props("name", "description", "encodingType"), _location,
            {
                "Things": Link("Things", True, (("id", "id"),)),
                "HistoricalLocations": Link("HistoricalLocations", True, (("id", "_thing"),)),
            },
        ),
        EntityType(
            "HistoricalLocation", "HistoricalLocations", historical_locations, _props("time"),
            lambda row: {"time": iso(row.time)},
            {
                "Thing": Link("Things", False, (("_thing", "id"),)),
                "Locations": Link("Locations", True, (("_thing", "id"),)),
            },
        ),
        EntityType(
            "Sensor", "Sensors", sensors, _props("name", "description", "encodingType", "metadata"),
            _plain("name", "description", "encodingType", "metadata"),
            {"Datastreams": Link("Datastreams", True, (("id", "_sensor"),))},
        ),
        EntityType(
            "ObservedProperty", "ObservedProperties", observed_properties,
            _props("name", "definition", "description"), _plain("name", "definition", "description"),
            {"Datastreams": Link("Datastreams", True, (("id", "_kind"),))},
        ),
        EntityType(
            "Datastream", "Datastreams", datastreams,
            _props(
                "name", "description", "observationType",
                **{"unitOfMeasurement/name": "uom_name", "unitOfMeasurement/symbol": "uom_symbol",
                   "unitOfMeasurement/definition": "uom_definition", "Thing/@iot.id": "_thing",
                   "Sensor/@iot.id": "_sensor", "ObservedProperty/@iot.id": "_kind"},
            ),
            _datastream,
            {
                "Thing": Link("Things", False, (("_thing", "id"),)),
                "Sensor": Link("Sensors", False, (("_sensor", "id"),)),
                "ObservedProperty": Link("ObservedProperties", False, (("_kind", "id"),)),
                "Observations": Link("Observations", True, (("_device", "_device"), ("_kind", "_kind"))),
            },
            id_match=lambda src, ident: _split_id(src, ident, "_device"),
        ),
        EntityType(
            "Observation", "Observations", observations,
            _props("phenomenonTime", "resultTime", "result",
                   **{
                    # Shortcuts: ids the observation row already holds (no subquery per row).
                    "Datastream/@iot.id": "_datastream",
                    "Datastream/Thing/@iot.id": "_device",
                    "Datastream/ObservedProperty/@iot.id": "_kind",
                    "FeatureOfInterest/@iot.id": "_device",
                }),
            _observation,
            {
                "Datastream": Link("Datastreams", False, (("_device", "_device"), ("_kind", "_kind"))),
                "FeatureOfInterest": Link("FeaturesOfInterest", False, (("_device", "id"),)),
            },
            id_match=lambda src, ident: _split_id(src, ident, "_reading"),
        ),
        EntityType(
            "FeatureOfInterest", "FeaturesOfInterest", features,
            _props("name", "description", "encodingType"), _feature,
            {"Observations": Link("Observations", True, (("id", "_device"),))},
        ),
    )
}  # fmt: skip
