"""The fleet manager's REST API (/api/v1) as the node tool uses it, with errors a technician can act on.

Only this module speaks HTTP to the fleet. "Provisioned" is recorded with the API that exists today:
the device carries the tag `provisioning` from creation until verify passes, then `provisioned`, and
every verify run leaves a maintenance note with its checks (see README: a dedicated endpoint is wanted).
"""

from __future__ import annotations

import httpx

from tools.nodetool.errors import FleetAuthError, FleetError, FleetUnreachableError, RoleError

TAG_PENDING = "provisioning"
TAG_DONE = "provisioned"


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

    # --- devices --------------------------------------------------------------------------------------
    def get_device(self, dev_eui: str) -> dict | None:
        r = self._call("GET", f"/devices/{dev_eui}", ok=(200, 404))
        return r.json() if r.status_code == 200 else None

    def create_device(self, body: dict) -> dict:
        """New device; the answer carries the AppKey (shown once)."""
        return self._call("POST", "/devices", json=body, ok=(201,)).json()

    def rotate_key(self, dev_eui: str) -> dict:
        return self._call("POST", f"/devices/{dev_eui}/keys").json()

    def set_tags(self, dev_eui: str, tags: list[str]) -> dict:
        return self._call("PATCH", f"/devices/{dev_eui}", json={"tags": tags}).json()

    def add_note(self, dev_eui: str, text: str) -> dict:
        return self._call("POST", f"/devices/{dev_eui}/notes", json={"text": text[:2000]}, ok=(201,)).json()

    def config(self, dev_eui: str) -> dict:
        return self._call("GET", f"/devices/{dev_eui}/config").json()

    def health(self, dev_eui: str) -> dict:
        r = self._call("GET", f"/devices/{dev_eui}/health", ok=(200, 404))
        if r.status_code == 404:
            raise FleetError(f"the fleet has no device {dev_eui}", "Check the DevEUI on the node's label.")
        return r.json()

    def mark(self, device: dict, *, verified: bool) -> dict:
        """Move the device's tags to `provisioned` (verified) or back to `provisioning`."""
        tags = [t for t in device.get("tags", []) if t not in (TAG_PENDING, TAG_DONE)]
        tags.append(TAG_DONE if verified else TAG_PENDING)
        return self.set_tags(device["dev_eui"], tags)


def _detail(r: httpx.Response) -> str:
    try:
        body = r.json()
    except ValueError:
        return r.text[:200] or r.reason_phrase
    detail = body.get("detail", body) if isinstance(body, dict) else body
    if isinstance(detail, list):  # FastAPI validation errors
        return "; ".join(f"{'.'.join(str(x) for x in d.get('loc', []))}: {d.get('msg')}" for d in detail)
    return str(detail)
