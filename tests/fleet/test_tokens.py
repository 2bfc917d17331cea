"""API tokens (issue 10): optional expiry (people's tokens expire by default), last use shown, and admins
list and revoke them through the API and on the pages."""

import re
from datetime import timedelta

from sqlmodel import select

from fleet.models import ApiToken, utcnow


def _create(client, admin, **body):  # noqa: ANN001, ANN003, ANN202
    r = client.post("/api/v1/tokens", json={"name": "anna", "role": "technician", **body}, headers=admin)
    assert r.status_code == 201, r.text
    return r.json()


def test_tokens_expire_by_default_and_machine_tokens_may_not(client, admin, db):
    person = _create(client, admin)
    assert person["expires_at"] is not None
    machine = _create(client, admin, name="depot-tool", expires_in_days=None)
    assert machine["expires_at"] is None
    short = _create(client, admin, name="contractor", expires_in_days=1)
    assert (
        client.post(
            "/api/v1/tokens", json={"name": "x", "role": "viewer", "expires_in_days": 0}, headers=admin
        ).status_code
        == 422
    )
    auth = {"Authorization": f"Bearer {short['token']}"}
    assert client.get("/api/v1/devices", headers=auth).status_code == 200
    row = db.get(ApiToken, short["id"])
    row.expires_at = utcnow() - timedelta(seconds=1)
    db.add(row)
    db.commit()
    r = client.get("/api/v1/devices", headers=auth)
    assert r.status_code == 401 and "expired" in r.json()["detail"], r.text
    listed = {t["name"]: t for t in client.get("/api/v1/tokens", headers=admin).json()}
    assert listed["contractor"]["last_used_at"] is not None and listed["depot-tool"]["last_used_at"] is None
    assert "token_hash" not in listed["anna"]


def _signed_in(client, token: str):  # noqa: ANN001, ANN202
    form = client.get("/signin")
    client.cookies.set("kumpel_signin", form.cookies["kumpel_signin"])  # Secure cookie over plain http
    data = {
        "token": token,
        "next": "/",
        "csrf": re.search(r'name="csrf" value="([^"]+)"', form.text).group(1),
    }
    r = client.post("/signin", data=data, follow_redirects=False)
    assert r.status_code == 303, r.text
    # The cookie is Secure (public_url is https): carry it over the test client's plain http by hand.
    client.cookies.set("kumpel_session", r.cookies["kumpel_session"])
    return client


def test_admin_lists_and_revokes_tokens_on_the_page(client, admin, db):
    anna = _create(client, admin)
    _signed_in(client, admin["Authorization"].split()[1])
    page = client.get("/admin/tokens")
    assert page.status_code == 200, page.text[:300]
    assert "anna" in page.text and "test-admin" in page.text
    csrf = re.search(r'name="csrf" value="([^"]+)"', page.text).group(1)
    r = client.post(f"/admin/tokens/{anna['id']}/revoke", data={"csrf": "forged"}, follow_redirects=False)
    assert r.status_code == 403
    assert db.get(ApiToken, anna["id"]).revoked_at is None
    r = client.post(f"/admin/tokens/{anna['id']}/revoke", data={"csrf": csrf}, follow_redirects=False)
    assert r.status_code == 303
    db.expire_all()
    assert db.exec(select(ApiToken).where(ApiToken.id == anna["id"])).one().revoked_at is not None
    assert (
        client.get("/api/v1/devices", headers={"Authorization": f"Bearer {anna['token']}"}).status_code == 401
    )


def test_token_page_is_for_admins_only(client, tech):
    _signed_in(client, tech["Authorization"].split()[1])
    assert client.get("/admin/tokens").status_code == 403
