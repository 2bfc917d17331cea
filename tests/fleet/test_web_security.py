"""Sign-in against login CSRF, and /metrics behind a token or an internal address (issue 10)."""

import re

from fastapi.testclient import TestClient
from fleet_helpers import make_token, wipe

from fleet.app import create_app


def test_cross_site_signin_post_is_refused(client, tech):
    """Login CSRF: another site's form signs the victim's browser into the attacker's account. Without the
    form's token (bound to a cookie only our sign-in page sets) the POST is refused and no session set."""
    token = tech["Authorization"].split()[1]
    r = client.post("/signin", data={"token": token, "next": "/"}, follow_redirects=False)
    assert r.status_code == 403 and "kumpel_session" not in r.cookies, r.status_code
    r = client.post(
        "/signin",
        data={"token": token, "next": "/", "csrf": "guessed"},
        headers={"Origin": "https://evil.example"},
        follow_redirects=False,
    )
    assert r.status_code == 403 and "kumpel_session" not in r.cookies
    form = client.get("/signin")
    csrf = re.search(r'name="csrf" value="([^"]+)"', form.text).group(1)
    client.cookies.set("kumpel_signin", form.cookies["kumpel_signin"])  # Secure cookie over plain http
    r = client.post(
        "/signin",
        data={"token": token, "next": "/", "csrf": csrf},
        headers={"Origin": "https://evil.example"},  # right token, wrong origin: still refused
        follow_redirects=False,
    )
    assert r.status_code == 403
    r = client.post("/signin", data={"token": token, "next": "/", "csrf": csrf}, follow_redirects=False)
    assert r.status_code == 303 and "kumpel_session" in r.cookies
    other = TestClient(client.app)  # a different browser: its cookie jar lacks our sign-in cookie
    r = other.post("/signin", data={"token": token, "next": "/", "csrf": csrf}, follow_redirects=False)
    assert r.status_code == 403


def _app(settings, **update):  # noqa: ANN001, ANN003, ANN202
    app = create_app(settings.model_copy(update=update))
    wipe(settings.database_url)
    return app


def test_metrics_need_the_metrics_token_when_one_is_set(settings):
    app = _app(settings, metrics_token="scrape-secret-0123456789")
    with TestClient(app, client=("203.0.113.7", 50000)) as c:
        assert c.get("/metrics").status_code == 401
        assert c.get("/metrics", headers={"Authorization": "Bearer wrong"}).status_code == 401
        r = c.get("/metrics", headers={"Authorization": "Bearer scrape-secret-0123456789"})
        assert r.status_code == 200 and "kumpel_uplinks_total" in r.text
        # an API token is not a metrics token
        assert c.get("/metrics", headers=make_token(app, "admin")).status_code == 401


def test_metrics_without_token_only_from_internal_addresses(settings):
    app = _app(settings, metrics_networks="127.0.0.0/8,10.0.0.0/8")
    with TestClient(app, client=("203.0.113.7", 50000)) as outside:
        r = outside.get("/metrics")
        assert r.status_code == 403 and "KUMPEL_METRICS" in r.json()["detail"]
        assert TestClient(app, client=("10.1.2.3", 50000)).get("/metrics").status_code == 200
        assert TestClient(app, client=("127.0.0.1", 50000)).get("/metrics").status_code == 200
        assert TestClient(app, client=("::1", 50000)).get("/metrics").status_code == 403  # not listed here
