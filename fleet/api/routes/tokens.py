"""API tokens (admin only): create (shown once), list, revoke."""

from fastapi import APIRouter, HTTPException
from pydantic import BaseModel
from sqlmodel import select

from fleet.api.deps import ROLES, Admin, RowId, SessionDep
from fleet.models import ApiToken, utcnow
from fleet.services import tokens

router = APIRouter(prefix="/tokens", tags=["tokens"])


class TokenIn(BaseModel):
    name: str
    role: str


@router.post("", status_code=201)
def create(body: TokenIn, session: SessionDep, _: Admin) -> dict:
    if body.role not in ROLES:
        raise HTTPException(400, f"role must be one of {', '.join(ROLES)}")
    row, token = tokens.create(session, name=body.name, role=body.role)
    session.commit()
    return {"id": row.id, "name": row.name, "role": row.role, "token": token}


@router.get("")
def list_tokens(session: SessionDep, _: Admin) -> list[dict]:
    return [t.model_dump(exclude={"token_hash"}) for t in session.exec(select(ApiToken)).all()]


@router.delete("/{token_id}", status_code=204)
def revoke(token_id: RowId, session: SessionDep, _: Admin) -> None:
    row = session.get(ApiToken, token_id)
    if row is None:
        raise HTTPException(404, f"no token {token_id}")
    row.revoked_at = utcnow()
    session.add(row)
    session.commit()
