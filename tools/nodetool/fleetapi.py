"""The fleet manager's REST API (/api/v1) as the node tool uses it, with errors a technician can act on.

Only this module speaks HTTP to the fleet. Whether a device is provisioned is the fleet's fact: each verify
run goes to `POST /devices/{eui}/verifications`, and the device JSON's `provisioned_at` is set by the
first passing run (cleared by new keys).
"""

from __future__ import annotations

from importlib import metadata
from typing import TYPE_CHECKING

import httpx

from tools.nodetool.errors import FleetAuthError, FleetError, FleetUnreachableError, RoleError

if TYPE_CHECKING:
    from tools.nodetool.verify import VerifyResult

MAX_DETAIL = 500  # the fleet refuses longer check details (422): the tool shortens them


def tool_version() -> str:
    try:
        return f"kumpel-node {metadata.version('kumpel')}"
    except metadata.PackageNotFoundError:  # running from a checkout that was not installed
        return "kumpel-node (checkout)"


class Fleet:
    def __init__(self, url: str, token: str | None, *, timeout: float = 15.0, transport=None) -> None:  # noqa: ANN001
        if not url.startswith(("http://", "https://")):
            raise FleetUnreachableError(f"fleet URL {url!r} must start with http:// or https://")
        if not token:
            raise FleetAuthError("no API token: set KUMPEL_TOKEN or pass --token")
        self.url = url.rstrip("/")
        self._http = httpx.Client(
            base_url=self.url + "/api/v1",
            headers={"Authorization": f"Bearer {token}"},
            timeout=timeout,
            transport=transport,
        )

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> Fleet:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _call(self, method: str, path: str, *, ok: tuple[int, ...] = (200,), **kw) -> httpx.Response:  # noqa: ANN003
        try:
            r = self._http.request(method, path, **kw)
        except httpx.TransportError as exc:
            raise FleetUnreachableError(f"fleet manager {self.url} unreachable: {exc}") from exc
        if r.status_code in ok:
            return r
        detail = _detail(r)
        if r.status_code == 401:
            raise FleetAuthError(f"the fleet refused the token: {detail}")
        if r.status_code == 403:
            raise RoleError(f"the token lacks the role for this: {detail}")
        raise FleetError(f"fleet answered {r.status_code} to {method} {path}: {detail}")

    def check(self) -> None:
        """Does the fleet answer and take the token? Asked before setup touches the board. One read that
        any role may make (a DevEUI no device has: 404 is the expected answer)."""
        self._call("GET", "/devices/0000000000000000", ok=(200, 404))

    # --- devices --------------------------------------------------------------------------------------
    def get_device(self, dev_eui: str) -> dict | None:
        r = self._call("GET", f"/devices/{dev_eui}", ok=(200, 404))
        return r.json() if r.status_code == 200 else None

    def create_device(self, body: dict) -> dict:
        """New device; the answer carries the AppKey (shown once)."""
        return self._call("POST", "/devices", json=body, ok=(201,)).json()

    def rotate_key(self, dev_eui: str) -> dict:
        return self._call("POST", f"/devices/{dev_eui}/keys").json()

    def report_verification(self, dev_eui: str, result: VerifyResult) -> dict | None:
        """Store one verify run in the fleet: every check with its pass/fail; the fleet decides whether
        the device is now provisioned. Returns the stored run with the device's `provisioned_at`, or None
        when the fleet has no such device."""
        body = {
            "checks": [
                {"name": c.name, "ok": c.ok, "detail": _shorten(c.detail, MAX_DETAIL)}
                | ({"code": c.code[:40], "params": _params(c.params)} if c.code else {})
                for c in result.checks
            ],
            "micropython": result.micropython[:120],
            "tool": tool_version(),
        }
        r = self._call("POST", f"/devices/{dev_eui}/verifications", json=body, ok=(201, 404))
        return r.json() if r.status_code == 201 else None

    def config(self, dev_eui: str) -> dict:
        return self._call("GET", f"/devices/{dev_eui}/config").json()

    def health(self, dev_eui: str) -> dict:
        r = self._call("GET", f"/devices/{dev_eui}/health", ok=(200, 404))
        if r.status_code == 404:
            raise FleetError(f"the fleet has no device {dev_eui}", "Check the DevEUI on the node's label.")
        return r.json()


def _params(params: dict) -> dict:
    """A check's numbers as the fleet takes them: at most 8, scalars only (text shortened)."""
    out = {}
    for key, value in list(params.items())[:8]:
        if isinstance(value, bool | int | float):
            out[str(key)[:40]] = value
        elif isinstance(value, str):
            out[str(key)[:40]] = _shorten(value, 120)
    return out


def _shorten(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _detail(r: httpx.Response) -> str:
    try:
        body = r.json()
    except ValueError:
        return r.text[:200] or r.reason_phrase
    detail = body.get("detail", body) if isinstance(body, dict) else body
    if isinstance(detail, list):  # FastAPI validation errors
        return "; ".join(f"{'.'.join(str(x) for x in d.get('loc', []))}: {d.get('msg')}" for d in detail)
    return str(detail)
