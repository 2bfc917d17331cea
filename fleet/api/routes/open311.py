"""Open311 GeoReport v2 (wiki.open311.org/GeoReport_v2) for bin reports, in XML (required by the
standard) and JSON, chosen by the `.xml` / `.json` suffix as the standard does (no suffix: XML).

So the city's Mängelmelder or app can read reports and forward new ones. Reading needs no key; filing a
report needs `api_key` (a fleet API token the admin issues to that client). Each request carries the
bin's DevEUI: `attribute[dev_eui]` when filing, `extended_attributes.dev_eui` when read with
`extensions=true` (the Mark-a-Spot / Chicago extension; plain clients get the standard fields only).
Errors use the standard's shape: `<errors><error><code/><description/></error></errors>` or
`[{"code", "description"}]`, with HTTP 404 (no such resource), 403 (api_key), 429 (rate limit), 400.
"""

from datetime import UTC, datetime, timedelta
from xml.etree import ElementTree as ET

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, Response
from sqlmodel import Session, select

from fleet.models import ApiToken, CitizenReport, Device
from fleet.security import hash_token
from fleet.services import citizen
from fleet.web.i18n import LANGUAGES, catalog
from protocols.identity import normalize_eui

router = APIRouter(prefix="/open311/v2", tags=["open311"])

SPECIFICATION = "http://wiki.open311.org/GeoReport_v2"
CHANGESET = "2026-12-02T00:00:00Z"  # when the service list or this endpoint last changed
FORMATS = {"xml": "text/xml; charset=utf-8", "json": "application/json; charset=utf-8"}
MAX_SPAN = timedelta(days=90)  # GeoReport v2: a start/end range "may not span more than 90 days"
# XML lists: the element name of one item in each list (the Spark convention maps them to JSON arrays).
_ITEM = {
    "services": "service",
    "service_requests": "request",
    "attributes": "attribute",
    "values": "value",
    "endpoints": "endpoint",
    "formats": "format",
    "errors": "error",
}


class Open311Error(Exception):
    def __init__(self, status: int, description: str, code: int | None = None):
        super().__init__(description)
        self.status, self.description, self.code = status, description, code or status


# --- rendering ---------------------------------------------------------------------------------------
def _text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _element(parent: ET.Element, name: str, value: object) -> None:
    node = ET.SubElement(parent, name)
    if isinstance(value, dict):
        for key, inner in value.items():
            _element(node, key, inner)
    elif isinstance(value, list):
        for inner in value:
            _element(node, _ITEM.get(name, "item"), inner)
    else:
        node.text = _text(value)


def to_xml(root: str, data: object) -> bytes:
    """Schemaless XML without a namespace, as the standard recommends; empty elements for nulls."""
    top = ET.Element(root)
    if isinstance(data, list):
        for item in data:
            _element(top, _ITEM[root], item)
    else:
        for key, value in data.items():
            _element(top, key, value)
    body = ET.tostring(top, encoding="utf-8", xml_declaration=False)
    return b'<?xml version="1.0" encoding="utf-8"?>\n' + body


def respond(fmt: str, root: str, data: object, status: int = 200) -> Response:
    if fmt == "json":
        return JSONResponse(data, status, media_type=FORMATS["json"])
    return Response(to_xml(root, data), status, media_type=FORMATS["xml"])


def _format(fmt: str | None) -> str:
    fmt = (fmt or "xml").lower()
    if fmt not in FORMATS:
        raise Open311Error(400, f"unknown format {fmt!r}: use .xml or .json")
    return fmt


def error_response(fmt: str, exc: Open311Error) -> Response:
    body = [{"code": exc.code, "description": exc.description}]
    return respond(fmt if fmt in FORMATS else "xml", "errors", body, exc.status)


# --- the resources -----------------------------------------------------------------------------------
def _lang(request: Request) -> str:
    locale = request.query_params.get("locale", "")[:2].lower()
    return locale if locale in LANGUAGES else "de"


def _words(lang: str) -> dict[str, str]:
    return catalog(lang)


def _service(code: str, words: dict[str, str]) -> dict:
    return {
        "service_code": code,
        "service_name": words[f"problem.{code}"],
        "description": words[f"problem_desc.{code}"],
        "metadata": True,  # the bin's DevEUI is an attribute
        "type": "realtime",
        "keywords": words[f"problem_keywords.{code}"],
        "group": citizen.SERVICE_GROUP,
    }


def _definition(code: str, words: dict[str, str]) -> dict:
    return {
        "service_code": code,
        "attributes": [
            {
                "variable": True,
                "code": "dev_eui",
                "datatype": "string",
                "required": True,
                "datatype_description": words["report.attr_dev_eui_format"],
                "order": 1,
                "description": words["report.attr_dev_eui"],
            }
        ],
    }


def _iso(moment: datetime | None) -> str | None:
    if moment is None:
        return None
    moment = moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment
    return moment.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def request_view(report: CitizenReport, dev_eui: str, words: dict, cfg, extensions: bool) -> dict:  # noqa: ANN001
    """One service request with every field GeoReport v2 lists, in its order (e-mail never shown)."""
    view = {
        "service_request_id": report.id,
        "status": report.status,
        "status_notes": report.status_notes or None,
        "service_name": words.get(f"problem.{report.service_code}", report.service_code),
        "service_code": report.service_code,
        "description": report.description or None,
        "agency_responsible": cfg.open311_agency or None,
        "service_notice": words["report.notice"],
        "requested_datetime": _iso(report.requested_at),
        "updated_datetime": _iso(report.updated_at),
        "expected_datetime": None,
        "address": report.address or None,
        "address_id": None,
        "zipcode": None,
        "lat": report.lat,
        "long": report.lon,
        "media_url": f"{cfg.public_url.rstrip('/')}/report/photo/{report.id}.jpg"
        if report.has_photo
        else None,
    }
    if extensions:
        view["extended_attributes"] = {"dev_eui": dev_eui}
    return view


def _jurisdiction(request: Request, values: dict | None = None) -> None:
    wanted = request.app.state.settings.open311_jurisdiction
    given = (values or request.query_params).get("jurisdiction_id") or ""
    if wanted and given and given != wanted:
        raise Open311Error(404, f"jurisdiction_id {given!r} not found: this endpoint serves {wanted!r}")


def _csv(text: str | None) -> list[str]:
    return [part.strip() for part in (text or "").split(",") if part.strip()]


def _when(name: str, text: str | None) -> datetime | None:
    if not text:
        return None
    try:
        moment = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise Open311Error(400, f"{name} {text!r} is not a w3 date-time, e.g. 2026-12-01T00:00:00Z") from None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment


def _range(start: datetime | None, end: datetime | None) -> tuple[datetime, datetime]:
    if start is None and end is None:
        end = datetime.now(UTC)
    if start is None:
        start = end - MAX_SPAN
    if end is None:
        end = min(start + MAX_SPAN, datetime.now(UTC))
    if end < start:
        raise Open311Error(400, "end_date is before start_date")
    if end - start > MAX_SPAN:
        raise Open311Error(400, "start_date to end_date may not span more than 90 days")
    return start, end


def _api_client(db: Session, key: str) -> ApiToken:
    if not key:
        raise Open311Error(403, "api_key missing: filing a report needs a key from the city's fleet admin")
    token = db.exec(select(ApiToken).where(ApiToken.token_hash == hash_token(key))).first()
    if token is None or token.revoked_at is not None:
        raise Open311Error(403, "Invalid api_key received -- can't proceed with create_request.")
    return token


def _float(values, name: str, low: float, high: float) -> float | None:  # noqa: ANN001
    text = (values.get(name) or "").strip()
    if not text:
        return None
    try:
        number = float(text)
    except ValueError:
        raise Open311Error(400, f"{name} {text!r} is not a number") from None
    if not low <= number <= high:
        raise Open311Error(400, f"{name} {number} is outside {low}..{high}")
    return number


def _file_request(request: Request, values) -> list[dict]:  # noqa: ANN001
    cfg = request.app.state.settings
    _jurisdiction(request, values)
    code = (values.get("service_code") or "").strip()
    if not code:
        raise Open311Error(400, "service_code was not provided")
    if code not in citizen.SERVICE_CODES:
        raise Open311Error(404, f"service_code {code!r} not found")
    dev_eui = normalize_eui(values.get("attribute[dev_eui]") or "")
    if not dev_eui:
        raise Open311Error(400, "attribute[dev_eui] was not provided: the DevEUI on the bin's label")
    description = values.get("description") or ""
    if len(description) > citizen.DESCRIPTION_MAX:
        raise Open311Error(400, f"description is longer than {citizen.DESCRIPTION_MAX} characters")
    email = (values.get("email") or "").strip()
    if email and not citizen.valid_email(email):
        raise Open311Error(400, f"email {email!r} is not an e-mail address")
    lat = _float(values, "lat", -90, 90)
    lon = _float(values, "long", -180, 180)
    if (lat is None) != (lon is None):
        raise Open311Error(400, "lat and long must be sent together")
    with Session(request.app.state.engine) as db:
        client = _api_client(db, values.get("api_key") or "")
        device = db.exec(select(Device).where(Device.dev_eui == dev_eui)).first()
        if device is None:
            raise Open311Error(400, f"attribute[dev_eui] {dev_eui!r} is not a bin of this city")
        # The key holder is accountable for its users: only the per-bin limit applies to API clients.
        key = citizen.client_key(cfg.secret_key, f"api:{client.id}")
        per_bin = cfg.report_limit_per_bin_hour
        refused = citizen.rate_limited(db, device, key, per_client=10**9, per_bin=per_bin)
        if refused is not None:
            raise Open311Error(429, "too many reports for this bin in the last hour: it is already reported")
        report = citizen.file_report(
            db,
            device,
            service_code=code,
            description=description,
            email=email,
            key=key,
            source=client.name,
            lat=lat,
            lon=lon,
        )
        return [
            {
                "service_request_id": report.id,
                "service_notice": _words(_lang(request))["report.notice"],
                "account_id": None,
            }
        ]


def _guard(fmt: str | None, work) -> Response:  # noqa: ANN001
    """Run one method; any Open311Error becomes the standard's error document in the asked format."""
    try:
        return work(_format(fmt))
    except Open311Error as exc:
        return error_response((fmt or "xml").lower(), exc)


def _discovery(request: Request, fmt: str) -> Response:
    cfg = request.app.state.settings
    base = f"{cfg.public_url.rstrip('/')}/open311/v2"
    data = {
        "changeset": CHANGESET,
        "contact": cfg.open311_contact or None,
        "key_service": "api_key: a fleet API token, issued by the fleet's admin (kumpel fleet token create)",
        "endpoints": [
            {
                "specification": SPECIFICATION,
                "url": base,
                "changeset": CHANGESET,
                "type": "production" if cfg.env == "production" else "test",
                "formats": ["text/xml", "application/json"],
            }
        ],
    }
    return respond(fmt, "discovery", data)


def _services(request: Request, fmt: str) -> Response:
    _jurisdiction(request)
    words = _words(_lang(request))
    return respond(fmt, "services", [_service(code, words) for code in citizen.SERVICE_CODES])


def _service_definition(request: Request, code: str, fmt: str) -> Response:
    _jurisdiction(request)
    if code not in citizen.SERVICE_CODES:
        raise Open311Error(404, f"service_code {code!r} not found")
    return respond(fmt, "service_definition", _definition(code, _words(_lang(request))))


def _requests(request: Request, fmt: str) -> Response:
    _jurisdiction(request)
    params = request.query_params
    cfg = request.app.state.settings
    ids_text = _csv(params.get("service_request_id"))
    if not all(part.isdigit() for part in ids_text):
        raise Open311Error(400, "service_request_id must be numbers, comma separated")
    statuses = _csv(params.get("status"))
    if any(s not in ("open", "closed") for s in statuses):
        raise Open311Error(400, "status must be open or closed (comma separated)")
    codes = _csv(params.get("service_code"))
    start, end = (None, None)
    if not ids_text:
        start = _when("start_date", params.get("start_date"))
        start, end = _range(start, _when("end_date", params.get("end_date")))
    extensions = params.get("extensions", "").lower() == "true"
    words = _words(_lang(request))
    with Session(request.app.state.engine) as db:
        rows = citizen.find(
            db, ids=[int(i) for i in ids_text], codes=codes, statuses=statuses, start=start, end=end
        )
        data = [request_view(r, eui, words, cfg, extensions) for r, eui in rows]
    return respond(fmt, "service_requests", data)


def _one_request(request: Request, request_id: str, fmt: str) -> Response:
    _jurisdiction(request)
    if not request_id.isdigit():
        raise Open311Error(404, f"service_request_id {request_id!r} not found")
    cfg = request.app.state.settings
    extensions = request.query_params.get("extensions", "").lower() == "true"
    with Session(request.app.state.engine) as db:
        rows = citizen.find(db, ids=[int(request_id)])
        if not rows:
            raise Open311Error(404, f"service_request_id {request_id} not found")
        data = [request_view(r, eui, _words(_lang(request)), cfg, extensions) for r, eui in rows]
    return respond(fmt, "service_requests", data)


# Decorators apply bottom-up: the suffixed path (lower line) is matched first, so "/requests/5.json"
# never reaches "/requests/{request_id}" as id "5.json".
@router.get("/discovery")
@router.get("/discovery.{fmt}")
def discovery(request: Request, fmt: str = "xml") -> Response:
    return _guard(fmt, lambda f: _discovery(request, f))


@router.get("/services")
@router.get("/services.{fmt}")
def services(request: Request, fmt: str = "xml") -> Response:
    return _guard(fmt, lambda f: _services(request, f))


@router.get("/services/{code}")
@router.get("/services/{code}.{fmt}")
def service_definition(request: Request, code: str, fmt: str = "xml") -> Response:
    return _guard(fmt, lambda f: _service_definition(request, code, f))


@router.get("/requests")
@router.get("/requests.{fmt}")
def requests(request: Request, fmt: str = "xml") -> Response:
    return _guard(fmt, lambda f: _requests(request, f))


@router.post("/requests")
@router.post("/requests.{fmt}")
async def create_request(request: Request, fmt: str = "xml") -> Response:
    try:
        values = await request.form()
    except Exception:  # a body that is not a form
        return error_response(fmt.lower(), Open311Error(400, "send application/x-www-form-urlencoded"))
    return await run_in_threadpool(
        _guard, fmt, lambda f: respond(f, "service_requests", _file_request(request, values))
    )


@router.get("/requests/{request_id}")
@router.get("/requests/{request_id}.{fmt}")
def one_request(request: Request, request_id: str, fmt: str = "xml") -> Response:
    return _guard(fmt, lambda f: _one_request(request, request_id, f))
