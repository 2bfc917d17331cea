"""API tokens (admin only): create (shown once), list (with last use and expiry), revoke."""

from fastapi import APIRouter, HTTPException
from pydantic import BaseModel, Field

from fleet.api.deps import ROLES, Admin, RowId, SessionDep
from fleet.services import tokens

router = APIRouter(prefix="/tokens", tags=["tokens"])


class TokenIn(BaseModel):
    name: str = Field(max_length=80)
    role: str
    # A person's token expires (default 90 days); null: never, for a machine (node tool, scripts).
    expires_in_days: int | None = Field(tokens.DEFAULT_EXPIRY_DAYS, ge=1, le=tokens.MAX_EXPIRY_DAYS)


@router.post("", status_code=201)
def create(body: TokenIn, session: SessionDep, _: Admin) -> dict:
    if body.role not in ROLES:
        raise HTTPException(400, f"role must be one of {', '.join(ROLES)}")
    row, token = tokens.create(session, name=body.name, role=body.role, expires_in_days=body.expires_in_days)
    session.commit()
    return {"id": row.id, "name": row.name, "role": row.role, "expires_at": row.expires_at, "token": token}


@router.get("")
def list_tokens(session: SessionDep, _: Admin) -> list[dict]:
    return [t.model_dump(exclude={"token_hash"}) for t in tokens.listing(session)]


@router.delete("/{token_id}", status_code=204)
def revoke(token_id: RowId, session: SessionDep, _: Admin) -> None:
    if tokens.revoke(session, token_id) is None:
        raise HTTPException(404, f"no token {token_id}")
    session.commit()
