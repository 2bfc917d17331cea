"""Bulk CSV import: one result per row; a bad row is rejected alone, the good ones are stored."""

from fastapi import APIRouter, HTTPException, Request

from fleet.api.deps import AdapterDep, SessionDep, SettingsDep, Technician
from fleet.services import provisioning
from fleet.services.provisioning import ProvisioningError

router = APIRouter(prefix="/devices", tags=["devices"])


@router.post("/import")
async def import_devices(
    request: Request, session: SessionDep, cfg: SettingsDep, adapter: AdapterDep, _: Technician
) -> dict:
    """Body: the CSV itself (text/csv) or a multipart form with a `file` field."""
    ctype = request.headers.get("content-type", "")
    if ctype.startswith("multipart/form-data"):
        form = await request.form()
        upload = form.get("file")
        if upload is None or isinstance(upload, str):
            raise HTTPException(400, "multipart import needs a `file` field with the CSV")
        raw = await upload.read()
    else:
        raw = await request.body()
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise HTTPException(400, "CSV is not UTF-8 text") from exc
    if not text.strip():
        raise HTTPException(400, "empty CSV")
    try:
        results = provisioning.import_csv(session, cfg, adapter, text)
    except ProvisioningError as exc:
        session.rollback()
        raise HTTPException(exc.status, str(exc)) from exc
    session.commit()
    counts = {k: sum(1 for r in results if r["result"] == k) for k in ("created", "updated", "rejected")}
    return {"counts": counts, "rows": results}
