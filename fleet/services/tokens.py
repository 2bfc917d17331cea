"""API tokens: the raw token is returned once; only its hash is stored."""

from sqlmodel import Session

from fleet.models import ApiToken
from fleet.security import hash_token, new_api_token

ROLES = ("viewer", "technician", "admin")  # each role can do everything the ones before it can


def create(session: Session, *, name: str, role: str) -> tuple[ApiToken, str]:
    if role not in ROLES:
        raise ValueError(f"role must be one of {', '.join(ROLES)}")
    token = new_api_token()
    row = ApiToken(name=name or role, role=role, token_hash=hash_token(token))
    session.add(row)
    session.flush()
    return row, token
