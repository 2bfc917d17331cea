"""The fleet overview: counts by state, open alerts first, then the filterable node list."""

from datetime import UTC, datetime, timedelta

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import RedirectResponse

from fleet.services.health import fleet_summary
from fleet.web import fleetdata, queries, wording
from fleet.web.render import error_page, page, refuse_post, require_user, translator
from fleet.web.session import Principal
from fleet.web.views import where

router = APIRouter()

STATES = ("ok", "warning", "critical", "offline")


def _int_or_none(text: str) -> int | None:
    return int(text) if text.strip().isdigit() and 0 < int(text) < 100000 else None


@router.get("/")
def overview(
    request: Request,
    q: str = "",
    state: str = "",
    group: str = "",
    battery_low: str = "",
    bin_full: str = "",
    silent_h: str = "",
    user: Principal = Depends(require_user),
):
    t = translator(request)
    cfg = fleetdata.settings(request)
    now = datetime.now(UTC)
    f = queries.NodeFilter(
        q=q,
        state=state if state in STATES + ("unknown",) else "",
        group=group,
        battery_low=bool(battery_low),
        bin_full=bool(bin_full),
        silent_h=_int_or_none(silent_h),
    )
    with fleetdata.session(request) as db:
        summary = fleet_summary(db, now=now, worst=0)
        rows = queries.find_nodes(db, f, now, cfg.battery_low_mv, fleetdata.full_threshold_pct())
        alerts = [wording.alert_view(t, alert, device) for alert, device in queries.open_alerts(db)]
        since = now - timedelta(days=queries.RECENT_ALARM_DAYS)
        cleared = [
            wording.alarm_view(t, alert, device)
            for alert, device in queries.recent_alarms(db, since, cleared_only=True)
        ]
        groups = queries.group_names(db)
        nodes = [wording.node_row(t, device, state, reading, now) for device, state, reading in rows]
        map_context = where.overview_context(request, t, rows)
    return page(
        request,
        "overview.html",
        {
            "states": STATES,
            "counts": summary["by_status"],
            "alerts": alerts,
            "cleared": cleared,
            "alarm_days": queries.RECENT_ALARM_DAYS,
            "nodes": nodes,
            "total": summary["total"],
            "groups": groups,
            "f": f,
            "list_limit": queries.LIST_LIMIT,
            **map_context,
        },
        user=user,
        t=t,
    )


@router.post("/alerts/{alert_id}/ack")
def acknowledge(
    request: Request, alert_id: int, csrf: str = Form(""), user: Principal = Depends(require_user)
):
    """ "I have seen it, I am on my way": the alert stays open until the condition clears."""
    t = translator(request)
    if (refused := refuse_post(request, user, csrf, t)) is not None:
        return refused
    with fleetdata.session(request) as db:
        try:
            fleetdata.acknowledge_alert(db, alert_id, user.name)
        except fleetdata.ActionRefused as exc:
            return error_page(request, 404, t("error.not_found"), str(exc), user, t)
    return RedirectResponse("/#alerts", status_code=303)
