"""API tokens: the raw token is returned once; only its hash is stored.

A person's token expires (DEFAULT_EXPIRY_DAYS unless the admin says otherwise), so a forgotten token on a
former colleague's phone stops working by itself; a machine's token (the depot's node tool, a script) may
be created without expiry. Expired and revoked tokens are refused by the API and end web sessions."""

from datetime import datetime, timedelta

from sqlmodel import Session, col, select

from fleet.models import ApiToken, utcnow
from fleet.security import hash_token, new_api_token

ROLES = ("viewer", "technician", "admin")  # each role can do everything the ones before it can
DEFAULT_EXPIRY_DAYS = 90
MAX_EXPIRY_DAYS = 3650


def create(
    session: Session, *, name: str, role: str, expires_in_days: int | None = None
) -> tuple[ApiToken, str]:
    """`expires_in_days` None: never expires (machine tokens)."""
    if role not in ROLES:
        raise ValueError(f"role must be one of {', '.join(ROLES)}")
    if expires_in_days is not None and not 1 <= expires_in_days <= MAX_EXPIRY_DAYS:
        raise ValueError(f"expiry must be 1..{MAX_EXPIRY_DAYS} days, or none")
    token = new_api_token()
    expires_at = utcnow() + timedelta(days=expires_in_days) if expires_in_days is not None else None
    row = ApiToken(name=name or role, role=role, token_hash=hash_token(token), expires_at=expires_at)
    session.add(row)
    session.flush()
    return row, token


def refusal(token: ApiToken | None, now: datetime | None = None) -> str | None:
    """Why this token may not be used, or None when it may."""
    if token is None:
        return "unknown API token"
    if token.revoked_at is not None:
        return "API token revoked"
    if token.expires_at is not None and token.expires_at <= (now or utcnow()):
        return f"API token expired on {token.expires_at.date().isoformat()}: ask an admin for a new one"
    return None


def listing(session: Session) -> list[ApiToken]:
    return list(session.exec(select(ApiToken).order_by(col(ApiToken.created_at).desc())).all())


def revoke(session: Session, token_id: int) -> ApiToken | None:
    row = session.get(ApiToken, token_id)
    if row is not None and row.revoked_at is None:
        row.revoked_at = utcnow()
        session.add(row)
    return row
