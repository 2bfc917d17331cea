"""The signed session cookie of the field-crew pages.

The cookie names who signed in and with which role, plus an expiry, signed with HMAC-SHA256 under the
fleet's secret key: a crew member cannot raise their own role by editing it. It never holds the API token
itself. The principal is re-checked against the fleet on every request (see `fleetdata.principal`), so a
revoked token ends the web session too.
"""

import base64
import hashlib
import hmac
import json
import time

SESSION_COOKIE = "kumpel_session"
SESSION_SECONDS = 12 * 3600  # one working shift
ROLES = ("viewer", "technician", "admin")


class Principal:
    """Who is looking at the page, and what they may do there."""

    __slots__ = ("kind", "ident", "name", "role")

    def __init__(self, kind: str, ident: str, name: str, role: str):
        if role not in ROLES:
            raise ValueError(f"unknown role {role!r}: expected one of {', '.join(ROLES)}")
        self.kind = kind  # "token" or "user"
        self.ident = ident
        self.name = name
        self.role = role

    @property
    def can_operate(self) -> bool:
        """Technicians and admins may send commands, change config, add devices and see keys."""
        return self.role in ("technician", "admin")

    def __repr__(self) -> str:
        return f"Principal({self.kind}:{self.ident} {self.role})"


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _signature(secret: str, body: str) -> str:
    return _b64(hmac.new(secret.encode("utf-8"), body.encode("ascii"), hashlib.sha256).digest())


def sign(secret: str, principal: Principal, now: float | None = None) -> str:
    """The cookie value for a freshly signed-in principal."""
    issued = int(now if now is not None else time.time())
    payload = {
        "k": principal.kind,
        "i": principal.ident,
        "n": principal.name,
        "r": principal.role,
        "exp": issued + SESSION_SECONDS,
    }
    body = _b64(json.dumps(payload, separators=(",", ":")).encode("utf-8"))
    return f"{body}.{_signature(secret, body)}"


def verify(secret: str, value: str | None, now: float | None = None) -> Principal | None:
    """The principal in a cookie, or None when it is missing, tampered with, malformed or expired."""
    if not value or value.count(".") != 1:
        return None
    body, signature = value.split(".")
    if not hmac.compare_digest(signature, _signature(secret, body)):
        return None
    try:
        payload = json.loads(_unb64(body))
        if payload["exp"] < (now if now is not None else time.time()):
            return None
        return Principal(payload["k"], str(payload["i"]), str(payload["n"]), payload["r"])
    except (ValueError, KeyError, TypeError):
        return None
