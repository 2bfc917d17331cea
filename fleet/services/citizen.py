"""Citizen reports at a bin: the problems one can report, filing with abuse limits, photos without
EXIF, closing with a note the citizen sees, and erasing personal data when a report closes.

One source of truth for both doors in: the public report page (fleet.web.views.report) and the Open311
GeoReport v2 API (fleet.api.routes.open311). Service names come from the pages' i18n catalogs, so the
form and an Open311 client read the same words.
"""

import hashlib
import hmac
import io
import warnings
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func
from sqlmodel import Session, col, select

from fleet.models import CitizenReport, CitizenReportPhoto, Device, utcnow

# The bin problems a citizen can report (issue 16): Open311 service codes, in the order shown.
SERVICE_CODES = ("bin_full", "bin_damaged", "lid_problem", "smell_pests", "dumped_waste", "sensor_damaged")
SERVICE_GROUP = "waste"
DESCRIPTION_MAX = 4000  # GeoReport v2: description is "free form text limited to 4,000 characters"
NOTE_MAX = 1000
EMAIL_MAX = 254
PHOTO_TYPES = {"JPEG": "image/jpeg", "PNG": "image/png", "WEBP": "image/webp"}
PHOTO_MAX_SIDE = 1600  # px: enough to see the damage, small enough for the crew's phone
PHOTO_MAX_PIXELS = 40_000_000  # refuse decompression bombs before decoding (a 12 MP photo is 12 M)


class PhotoError(ValueError):
    """A photo we will not keep; `code` names the reason for the message catalogs."""

    def __init__(self, code: str):
        super().__init__(code)
        self.code = code


@dataclass(frozen=True)
class Refusal:
    """Why a report was not filed: `code` for the catalogs, `status` for HTTP."""

    code: str
    status: int = 400


def client_key(secret: str, sender: str) -> str:
    """A keyed hash of who sent a report (an IP address or an API token's name): enough to count
    reports per sender for the rate limit, not enough to recover the address."""
    return hmac.new(secret.encode(), b"report-client:" + sender.encode(), hashlib.sha256).hexdigest()[:32]


def rate_limited(db: Session, device: Device, key: str, per_client: int, per_bin: int) -> Refusal | None:
    """Per sender and per bin, within the last hour (counted in the database, so every worker agrees)."""
    since = utcnow() - timedelta(hours=1)
    recent = select(func.count()).select_from(CitizenReport).where(CitizenReport.requested_at >= since)
    if db.exec(recent.where(CitizenReport.client_key == key)).one() >= per_client:
        return Refusal("rate_client", 429)
    if db.exec(recent.where(CitizenReport.device_id == device.id)).one() >= per_bin:
        return Refusal("rate_bin", 429)
    return None


def clean_photo(raw: bytes, max_bytes: int) -> bytes:
    """The photo re-encoded as JPEG, at most PHOTO_MAX_SIDE px, upright, with no EXIF (GPS position,
    camera serial, time) or other metadata: only pixels survive. Anything else is a PhotoError."""
    from PIL import Image, ImageOps, UnidentifiedImageError

    if len(raw) > max_bytes:
        raise PhotoError("photo_too_large")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(raw)) as probe:
                if probe.format not in PHOTO_TYPES:
                    raise PhotoError("photo_type")
                if probe.width * probe.height > PHOTO_MAX_PIXELS:
                    raise PhotoError("photo_too_large")
                probe.verify()  # truncated or corrupt files fail here
            with Image.open(io.BytesIO(raw)) as image:
                image = ImageOps.exif_transpose(image)  # keep "up" before the orientation tag goes
                image.thumbnail((PHOTO_MAX_SIDE, PHOTO_MAX_SIDE))
                pixels = Image.new("RGB", image.size, "white")
                pixels.paste(image.convert("RGBA"), mask=image.convert("RGBA").getchannel("A"))
                out = io.BytesIO()
                pixels.save(out, "JPEG", quality=82, optimize=True)  # no exif= argument: none written
                return out.getvalue()
    except PhotoError:
        raise
    except (
        UnidentifiedImageError,
        OSError,
        SyntaxError,
        ValueError,
        Image.DecompressionBombError,
        Image.DecompressionBombWarning,
    ):
        raise PhotoError("photo_unreadable") from None


def valid_email(text: str) -> bool:
    """A plausible address (one @, a dot in the domain, no spaces): we only keep it, we never verify it."""
    local, at, domain = text.partition("@")
    return bool(at and local and "." in domain.strip(".") and " " not in text and len(text) <= EMAIL_MAX)


def file_report(
    db: Session,
    device: Device,
    *,
    service_code: str,
    description: str = "",
    email: str = "",
    photo: bytes | None = None,
    key: str,
    source: str,
    lat: float | None = None,
    lon: float | None = None,
) -> CitizenReport:
    """Store a report (the caller checked the limits and cleaned the photo). The bin's own place wins
    over a client's coordinates: the sticker is on this bin."""
    report = CitizenReport(
        device_id=device.id,
        service_code=service_code,
        description=description.strip()[:DESCRIPTION_MAX],
        lat=device.lat if device.lat is not None else lat,
        lon=device.lon if device.lon is not None else lon,
        address=", ".join(part for part in (device.street, device.district) if part),
        email=email.strip() or None,
        client_key=key,
        source=source,
        has_photo=photo is not None,
    )
    db.add(report)
    db.flush()
    if photo is not None:
        db.add(CitizenReportPhoto(report_id=report.id, data=photo))
    db.commit()
    db.refresh(report)
    return report


def close_report(db: Session, report: CitizenReport, note: str, author: str) -> None:
    """Closed with the crew's note (the citizen reads it); the e-mail and the rate-limit key go now."""
    now = utcnow()
    report.status = "closed"
    report.status_notes = note.strip()[:NOTE_MAX]
    report.closed_at = report.updated_at = now
    report.closed_by = author
    report.email = None
    report.client_key = None
    db.add(report)
    db.commit()


def open_reports(db: Session, device_id: int) -> list[CitizenReport]:
    return list(
        db.exec(
            select(CitizenReport)
            .where(CitizenReport.device_id == device_id, CitizenReport.status == "open")
            .order_by(col(CitizenReport.id).desc())
        )
    )


def find(
    db: Session,
    *,
    ids: list[int] | None = None,
    codes: list[str] | None = None,
    statuses: list[str] | None = None,
    start: datetime | None = None,
    end: datetime | None = None,
    limit: int = 1000,
) -> list[tuple[CitizenReport, str]]:
    """Reports with their bin's DevEUI, newest first: by id (overrides the rest, as GeoReport v2 says),
    else by service, status and requested time."""
    query = select(CitizenReport, Device.dev_eui).join(Device, Device.id == CitizenReport.device_id)
    if ids:
        query = query.where(col(CitizenReport.id).in_(ids))
    else:
        if codes:
            query = query.where(col(CitizenReport.service_code).in_(codes))
        if statuses:
            query = query.where(col(CitizenReport.status).in_(statuses))
        if start is not None:
            query = query.where(CitizenReport.requested_at >= start)
        if end is not None:
            query = query.where(CitizenReport.requested_at <= end)
    return list(db.exec(query.order_by(col(CitizenReport.id).desc()).limit(limit)))


def summary(report: CitizenReport) -> dict:
    """What the status page and the crew's node page show of a report (no e-mail, no sender key)."""
    return {
        "ref": report.id,
        "service_code": report.service_code,
        "status": report.status,
        "status_notes": report.status_notes,
        "description": report.description,
        "address": report.address,
        "requested_at": report.requested_at,
        "closed_at": report.closed_at,
        "has_photo": report.has_photo,
    }


def open_summaries(db: Session, device_id: int) -> list[dict]:
    """The open reports of one bin, for the crew's node page (templates/_citizen_reports.html)."""
    return [summary(r) for r in open_reports(db, device_id)]


# --- reports meet the sensor ---------------------------------------------------------------------------
SUSPECT_WINDOW = timedelta(hours=24)
EMPTIED_NOTE = "Geleert (laut Füllstandssensor). / Emptied (as the fill sensor shows)."


def full_reports_before(db: Session, device_id: int, measured_at: datetime, now: datetime) -> int:
    """Open "full" reports of the last day filed before the newest reading: if that reading still says
    nearly empty, the citizens and the sensor disagree (verdict.reasons decides, `sensor_suspect`)."""
    return db.exec(
        select(func.count())
        .select_from(CitizenReport)
        .where(
            CitizenReport.device_id == device_id,
            CitizenReport.service_code == "bin_full",
            CitizenReport.status == "open",
            CitizenReport.requested_at >= now - SUSPECT_WINDOW,
            CitizenReport.requested_at <= measured_at,
        )
    ).one()


def close_on_emptying(db: Session, device_id: int, now: datetime) -> int:
    """The bin's full alarm closed (it was emptied): its open "full" reports close with it, personal data
    erased as at any close. In the caller's transaction; returns how many closed."""
    reports = db.exec(
        select(CitizenReport).where(
            CitizenReport.device_id == device_id,
            CitizenReport.service_code == "bin_full",
            CitizenReport.status == "open",
        )
    ).all()
    for report in reports:
        report.status, report.status_notes = "closed", EMPTIED_NOTE
        report.closed_at = report.updated_at = now
        report.closed_by, report.email, report.client_key = "sensor", None, None
        db.add(report)
    return len(reports)


def photo_of(db: Session, report_id: int) -> CitizenReportPhoto | None:
    return db.get(CitizenReportPhoto, report_id)
