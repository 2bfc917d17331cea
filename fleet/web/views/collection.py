"""Tomorrow's collection list for a group: bins forecast to be full by tomorrow evening, printable and as
CSV, and the node page's "full in ~2 days" line (the forecast method is in fleet.services.forecast)."""

import csv
import io
from datetime import UTC, datetime, time, timedelta

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from sqlmodel import select

from fleet.models import Group
from fleet.services import forecast as forecasting
from fleet.services import provisioning
from fleet.web import fleetdata, queries, wording
from fleet.web.i18n import CITY_TZ, Translator
from fleet.web.render import error_page, page, require_user, translator
from fleet.web.session import Principal

router = APIRouter()
EVENING = time(20, 0)  # "by tomorrow evening": before the late round


def full_text(t: Translator, fc: forecasting.Forecast | None, now: datetime) -> str | None:
    """'full in ~2 days' for the node page; None when there is too little history to say."""
    if fc is None:
        return None
    hours = fc.hours_until_full(now)
    if hours is None:
        return t("forecast.not_soon")
    if hours < 1:
        return t("forecast.full_now")
    if hours < 36:
        return t("forecast.full_in_hours", hours=round(hours))
    return t("forecast.full_in_days", days=round(hours / 24))


def deadline(now: datetime) -> datetime:
    tomorrow = now.astimezone(CITY_TZ).date() + timedelta(days=1)
    return datetime.combine(tomorrow, EVENING, tzinfo=CITY_TZ)


def collection_rows(request: Request, group: str, now: datetime) -> tuple[list[dict], datetime] | None:
    due = deadline(now)
    threshold = fleetdata.full_threshold_pct()
    with fleetdata.session(request) as db:
        g = db.exec(select(Group).where(Group.name == group)).first()
        if g is None:
            return None
        rows = []
        for device in provisioning.members(db, g):
            if device.ultrasonic is None:
                continue
            fc = forecasting.for_device(db, device.id, threshold, now)
            if fc is None or fc.full_at is None or fc.full_at > due:
                continue
            rows.append(
                {
                    "name": wording.display_name(device),
                    "dev_eui": device.dev_eui,
                    "street": device.street,
                    "level": round(fc.level_now),
                    "full_at": fc.full_at,
                    "last_emptied": fc.last_emptied_at,
                    "url": wording.node_url(device.dev_eui),
                }
            )
    rows.sort(key=lambda r: r["full_at"])
    return rows, due


@router.get("/collection")
def collection_page(request: Request, group: str = "", user: Principal = Depends(require_user)):
    t = translator(request)
    now = datetime.now(UTC)
    with fleetdata.session(request) as db:
        groups = queries.group_names(db)
    result = collection_rows(request, group, now) if group else ([], deadline(now))
    if result is None:
        return error_page(request, 404, t("error.not_found"), t("collection.no_group", group=group), user, t)
    rows, due = result
    ctx = {"rows": rows, "group": group, "groups": groups, "due": due}
    return page(request, "collection.html", ctx, user=user, t=t)


@router.get("/collection.csv")
def collection_csv(request: Request, group: str, user: Principal = Depends(require_user)):
    t = translator(request)
    result = collection_rows(request, group, datetime.now(UTC))
    if result is None:
        return error_page(request, 404, t("error.not_found"), t("collection.no_group", group=group), user, t)
    rows, due = result
    buf = io.StringIO()
    out = csv.writer(buf, lineterminator="\n")
    out.writerow(["name", "dev_eui", "street", "fill_pct_now", "full_at", "last_emptied"])
    for r in rows:
        last = (
            r["last_emptied"].astimezone(CITY_TZ).isoformat(timespec="minutes") if r["last_emptied"] else ""
        )
        out.writerow([r["name"], r["dev_eui"], r["street"], r["level"],
                      r["full_at"].astimezone(CITY_TZ).isoformat(timespec="minutes"), last])  # fmt: skip
    name = f"collection-{group}-{due.date()}.csv".replace(" ", "_")
    headers = {"Content-Disposition": f'attachment; filename="{name}"', "Cache-Control": "no-store"}
    return Response(buf.getvalue(), media_type="text/csv; charset=utf-8", headers=headers)
