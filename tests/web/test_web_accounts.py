"""Crew accounts through the real interfaces: `kumpel fleet user ...` (Typer) creates and disables them, the
sign-in form takes a user name and password, a signed-in page shows a one-time sign-in link for a phone,
and the admin's user page manages accounts. On SQLite, and on PostgreSQL with KUMPEL_TEST_PG_URL."""

import re
import time
from datetime import timedelta

import pytest
import web_seed as seed
from fastapi.testclient import TestClient
from sqlmodel import Session, select
from typer.testing import CliRunner

from fleet.cli import app as fleet_cli
from fleet.models import SigninLink, UserAccount
from fleet.services import accounts
from fleet.web.session import SESSION_COOKIE, sign, verify

PASSWORD = "Tonne-leeren-42"


@pytest.fixture
def cli(fleet, monkeypatch):  # noqa: ANN001, ANN201
    """`kumpel fleet ...` on the page tests' database (as an admin would run it on the server)."""
    monkeypatch.setenv("KUMPEL_DATABASE_URL", fleet.cfg.database_url)
    monkeypatch.setenv("KUMPEL_ENV", "development")
    monkeypatch.setenv("COLUMNS", "200")
    runner = CliRunner()

    def invoke(*args: str, stdin: str | None = None, ok: bool = True):  # noqa: ANN202
        result = runner.invoke(fleet_cli, list(args), input=stdin)
        assert (result.exit_code == 0) == ok, result.output
        return result.output

    return invoke


@pytest.fixture
def crew(cli):  # noqa: ANN001, ANN201
    """A fresh account per test (user names must be unique within the module's fleet)."""
    counter = iter(range(1, 10_000))

    def make(role: str = "technician", name: str = "") -> str:
        username = f"{role[:4]}{next(counter)}-{time.monotonic_ns() % 10**9}"
        cli(
            "user",
            "add",
            username,
            "--role",
            role,
            "--name",
            name or username,
            "--password-stdin",
            stdin=PASSWORD,
        )
        return username

    return make


def _client(fleet, lang: str = "en") -> TestClient:  # noqa: ANN001
    return TestClient(fleet.app, headers={"Accept-Language": lang})


def _password_sign_in(fleet, username: str, password: str = PASSWORD, lang: str = "en"):  # noqa: ANN001, ANN202
    client = _client(fleet, lang)
    data = {"username": username, "password": password, "next": "/", "csrf": seed.signin_csrf(client)}
    r = client.post("/signin", data=data, follow_redirects=False)
    return client, r


def _csrf(html: str) -> str:
    return re.search(r'name="csrf" value="([0-9a-f]+)"', html).group(1)


def _account(fleet, username: str) -> UserAccount:  # noqa: ANN001
    with Session(fleet.engine) as db:
        return db.exec(select(UserAccount).where(UserAccount.username == username)).one()


def test_cli_creates_lists_and_disables_accounts(fleet, cli, crew):
    name = crew("technician", "Anna Kowalski")
    account = _account(fleet, name)
    # argon2id with RFC 9106's low-memory profile, salt inside: nothing of the password is stored
    assert re.fullmatch(
        r"\$argon2id\$v=19\$m=65536,t=3,p=4\$[A-Za-z0-9+/]{22}\$[A-Za-z0-9+/]{43}", account.password_hash
    )
    assert PASSWORD not in account.password_hash
    out = cli("user", "list")
    assert name in out and "Anna Kowalski" in out and "technician" in out and "active" in out
    assert "exists already" in cli(
        "user", "add", name, "--role", "viewer", "--password-stdin", stdin=PASSWORD, ok=False
    )
    assert "too short" in cli(
        "user", "add", "bob-short", "--role", "viewer", "--password-stdin", stdin="kurz", ok=False
    )
    assert "role must be one of" in cli(
        "user", "add", "bob", "--role", "root", "--password-stdin", stdin=PASSWORD, ok=False
    )
    assert "user name" in cli(
        "user", "add", "Bob Smith!", "--role", "viewer", "--password-stdin", stdin=PASSWORD, ok=False
    )
    cli("user", "disable", name)
    assert "disabled" in cli("user", "list")
    assert "no user 'nobody'" in cli("user", "disable", "nobody", ok=False)


def test_sign_in_with_user_name_and_password(fleet, crew):
    name = crew("technician", "Anna Kowalski")
    client, r = _password_sign_in(fleet, name.upper())  # user names are not case-sensitive
    assert r.status_code == 303 and r.headers["location"] == "/"
    cookie = r.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=lax" in cookie and PASSWORD not in cookie
    page = client.get("/")
    assert page.status_code == 200 and "Signed in as Anna Kowalski (technician)" in page.text
    assert 'href="/tech/devices"' in page.text  # a technician's menu
    assert _account(fleet, name).last_signin_at is not None


@pytest.mark.parametrize(
    ("lang", "text"), [("en", "Unknown user name or wrong password."), ("de", "falsches Passwort")]
)
def test_wrong_password_and_unknown_name_read_the_same(fleet, crew, lang, text):
    name = crew("viewer")
    for username, password in ((name, "not-the-password"), ("nobody-here", PASSWORD)):
        _, r = _password_sign_in(fleet, username, password, lang)
        assert r.status_code == 401 and text in r.text and "set-cookie" not in r.headers
        assert f'value="{username}"' in r.text  # the name stays typed in
    _, r = _password_sign_in(fleet, name, "", lang)
    assert r.status_code == 400


def test_five_wrong_passwords_lock_the_account_for_minutes(fleet, crew):
    name = crew("technician")
    for _ in range(accounts.MAX_FAILURES):
        assert _password_sign_in(fleet, name, "guess-guess-guess")[1].status_code == 401
    _, r = _password_sign_in(fleet, name)  # even the right password waits
    assert r.status_code == 401 and re.search(r"Too many wrong passwords\. Try again in [45] min", r.text), (
        r.text
    )
    with Session(fleet.engine) as db:
        account = db.exec(select(UserAccount).where(UserAccount.username == name)).one()
        account.last_failed_at -= timedelta(seconds=accounts.LOCK_SECONDS + 1)
        db.add(account)
        db.commit()
    assert _password_sign_in(fleet, name)[1].status_code == 303
    assert _account(fleet, name).failed_signins == 0


def test_disabling_ends_open_sessions_and_refuses_sign_in(fleet, cli, crew):
    name = crew("technician")
    client, _ = _password_sign_in(fleet, name)
    assert client.get("/", follow_redirects=False).status_code == 200
    cli("user", "disable", name)
    assert client.get("/", follow_redirects=False).status_code == 303  # back to sign-in
    _, r = _password_sign_in(fleet, name)
    assert r.status_code == 401 and "This account is disabled" in r.text
    _, r = _password_sign_in(fleet, name, "wrong-password-here")
    assert "disabled" not in r.text  # only someone who knows the password learns that
    cli("user", "enable", name)
    assert _password_sign_in(fleet, name)[1].status_code == 303


def test_sessions_expire_after_a_shift(fleet, crew):
    name = crew("viewer")
    client, r = _password_sign_in(fleet, name)
    secret = fleet.cfg.secret_key
    principal = verify(secret, client.cookies.get(SESSION_COOKIE))
    assert principal is not None and principal.kind == "user"
    stale = _client(fleet)
    stale.cookies.set(SESSION_COOKIE, sign(secret, principal, now=time.time() - 12 * 3600 - 5))
    assert stale.get("/", follow_redirects=False).status_code == 303
    fresh = _client(fleet)
    fresh.cookies.set(SESSION_COOKIE, sign(secret, principal, now=time.time() - 11 * 3600))
    assert fresh.get("/", follow_redirects=False).status_code == 200


def test_a_new_password_ends_the_other_sessions(fleet, crew):
    name = crew("technician")
    laptop, _ = _password_sign_in(fleet, name)
    phone, _ = _password_sign_in(fleet, name)
    page = laptop.get("/account")
    assert name in page.text
    r = laptop.post(
        "/account/password",
        data={
            "current": PASSWORD,
            "new": "ein-neues-Passwort",
            "repeat": "ein-anderes",
            "csrf": _csrf(page.text),
        },
    )
    assert r.status_code == 400 and "The two new passwords differ" in r.text
    assert phone.get("/", follow_redirects=False).status_code == 200  # nothing changed
    r = laptop.post(
        "/account/password",
        data={
            "current": PASSWORD,
            "new": "ein-neues-Passwort",
            "repeat": "ein-neues-Passwort",
            "csrf": _csrf(page.text),
        },
        follow_redirects=False,
    )
    assert r.status_code == 303
    assert phone.get("/", follow_redirects=False).status_code == 303
    assert _password_sign_in(fleet, name)[1].status_code == 401
    assert _password_sign_in(fleet, name, "ein-neues-Passwort")[1].status_code == 303


def _show_link(client: TestClient) -> str:
    page = client.get("/account")
    r = client.post("/account/phone", data={"csrf": _csrf(page.text)})
    assert r.status_code == 200
    assert "<svg" in r.text and "Works once" in r.text
    return re.search(r'<a href="(http://[^"]+/signin/link/[A-Za-z0-9_-]{43})"', r.text).group(1)


def _check(html: str) -> str:
    return re.search(r'name="check" value="([0-9a-f]{32})"', html).group(1)


def _redeem(client: TestClient, path: str):  # noqa: ANN202
    """What the phone does: open the link, tap the button (the page's form, with its check)."""
    look = client.get(path)
    if look.status_code != 200:
        return look
    return client.post(path, data={"check": _check(look.text)}, follow_redirects=False)


def test_a_phone_signs_in_once_with_the_link_from_a_signed_in_page(fleet, crew):
    name = crew("technician", "Anna Kowalski")
    laptop, _ = _password_sign_in(fleet, name)
    url = _show_link(laptop)
    path = url.split("127.0.0.1:8000", 1)[1]
    phone, other = _client(fleet, "de"), _client(fleet)
    look = phone.get(path)
    assert look.status_code == 200 and "Als Anna Kowalski (Technik)" in look.text
    assert phone.get(path).status_code == 200  # looking (a link preview) does not use it up
    other_look = other.get(path)  # a second phone scans the same code before the first taps
    r = phone.post(path, data={"check": _check(phone.get(path).text)}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/"
    assert "Anna Kowalski" in phone.get("/").text
    again = other.post(path, data={"check": _check(other_look.text)}, follow_redirects=False)
    assert (
        again.status_code == 410
        and "used already" in again.text
        and "kumpel_session" not in again.headers.get("set-cookie", "")
    )
    assert _client(fleet).get(path).status_code == 410


def test_another_site_cannot_post_a_sign_in_link(fleet, crew):
    """Login CSRF: a page elsewhere must not sign a visitor's browser in as the attacker's account. Its
    cross-site POST carries neither the SameSite=Strict check cookie nor the matching form value."""
    name = crew("technician")
    laptop, _ = _password_sign_in(fleet, name)
    path = _show_link(laptop).split("127.0.0.1:8000", 1)[1]
    victim = _client(fleet)
    for data in ({}, {"check": "0" * 32}):
        r = victim.post(path, data=data, follow_redirects=False)
        assert r.status_code == 403 and "kumpel_session" not in r.headers.get("set-cookie", "")
    look = laptop.get(path)  # a form from one browser does not work in another (the nonce is per browser)
    cookie = look.headers["set-cookie"].lower()
    assert "kumpel_link_check=" in cookie and "samesite=strict" in cookie and "httponly" in cookie
    r = victim.post(path, data={"check": _check(look.text)}, follow_redirects=False)
    assert r.status_code == 403
    assert _redeem(_client(fleet), path).status_code == 303  # and the link was not used up by any of that


def test_a_sign_in_link_expires_and_a_new_one_voids_the_old(fleet, crew):
    name = crew("viewer")  # viewers may sign in their phone too
    laptop, _ = _password_sign_in(fleet, name)
    first = _show_link(laptop).split("127.0.0.1:8000", 1)[1]
    second = _show_link(laptop).split("127.0.0.1:8000", 1)[1]
    r = _redeem(_client(fleet), first)
    assert r.status_code == 410 and "used already" in r.text
    phone = _client(fleet)
    look = phone.get(second)
    assert look.status_code == 200
    with Session(fleet.engine) as db:
        link = db.exec(select(SigninLink).where(SigninLink.used_at.is_(None))).all()
        for row in link:
            row.expires_at -= timedelta(seconds=accounts.LINK_SECONDS + 1)
            db.add(row)
        db.commit()
    r = phone.post(second, data={"check": _check(look.text)}, follow_redirects=False)  # tapped too late
    assert r.status_code == 410 and "has expired" in r.text
    assert _redeem(_client(fleet), second).status_code == 410
    assert _client(fleet).get("/signin/link/" + "x" * 43).status_code == 410


def test_a_disabled_account_link_does_not_sign_in(fleet, cli, crew):
    name = crew("technician")
    laptop, _ = _password_sign_in(fleet, name)
    path = _show_link(laptop).split("127.0.0.1:8000", 1)[1]
    phone = _client(fleet)
    look = phone.get(path)
    cli("user", "disable", name)
    assert phone.post(path, data={"check": _check(look.text)}, follow_redirects=False).status_code == 410
    assert _redeem(_client(fleet), path).status_code == 410


def test_two_redeems_of_one_link_only_one_wins(fleet, crew):
    """The UPDATE ... WHERE used_at IS NULL guard, not the check before it, makes a link single-use."""
    name = crew("technician")
    with Session(fleet.engine) as db:
        raw, _ = accounts.issue_link(db, accounts.by_name(db, name))
    with Session(fleet.engine) as first, Session(fleet.engine) as second:
        accounts.peek_link(first, raw)  # `first` has seen the link unused...
        accounts.redeem_link(second, raw)  # ...when another phone uses it
        with pytest.raises(accounts.AccountError) as refused:
            accounts.redeem_link(first, raw)
        assert refused.value.code == "link_used"


def test_a_token_session_has_no_phone_link(fleet, signed_in):
    client = signed_in("technician")
    page = client.get("/account")
    assert (
        "signed in with an access token" in page.text
        and "<form" not in page.text.split('<main id="main">')[1]
    )
    assert client.post("/account/phone", data={"csrf": "x"}).status_code == 403


def test_admin_manages_users_on_the_page(fleet, crew, signed_in):
    for role in ("viewer", "technician"):
        assert signed_in(role).get("/admin/users").status_code == 403
    admin = signed_in("admin")
    page = admin.get("/admin/users")
    assert page.status_code == 200 and 'href="/admin/users"' in page.text
    csrf = _csrf(page.text)
    r = admin.post(
        "/admin/users", data={"username": "berta", "role": "technician", "password": "kurz", "csrf": csrf}
    )
    assert r.status_code == 400 and "too short: at least 10 characters" in r.text
    assert "berta" not in admin.get("/admin/users").text
    assert (
        admin.post(
            "/admin/users", data={"username": "berta", "role": "technician", "password": PASSWORD}
        ).status_code
        == 403
    )
    r = admin.post(
        "/admin/users",
        data={
            "username": "berta",
            "display_name": "Berta B.",
            "role": "technician",
            "password": PASSWORD,
            "csrf": csrf,
        },
        follow_redirects=False,
    )
    assert r.status_code == 303
    assert "User added." in admin.get(r.headers["location"]).text
    berta_id = _account(fleet, "berta").id
    phone, _ = _password_sign_in(fleet, "berta")
    assert phone.get("/", follow_redirects=False).status_code == 200
    # a new role ends the session (the cookie carried the old one)
    r = admin.post(
        f"/admin/users/{berta_id}",
        data={"action": "role", "role": "viewer", "csrf": csrf},
        follow_redirects=False,
    )
    assert r.status_code == 303
    assert phone.get("/", follow_redirects=False).status_code == 303
    phone, _ = _password_sign_in(fleet, "berta")
    assert "(viewer)" in phone.get("/").text
    admin.post(f"/admin/users/{berta_id}", data={"action": "disable", "csrf": csrf})
    assert 'data-disabled="yes"' in admin.get("/admin/users").text
    assert phone.get("/", follow_redirects=False).status_code == 303
    admin.post(f"/admin/users/{berta_id}", data={"action": "enable", "csrf": csrf})
    admin.post(
        f"/admin/users/{berta_id}", data={"action": "password", "password": "neues-Passwort-1", "csrf": csrf}
    )
    assert _password_sign_in(fleet, "berta", "neues-Passwort-1")[1].status_code == 303


def test_an_admin_account_cannot_lock_itself_out(fleet, crew):
    name = crew("admin")
    client, _ = _password_sign_in(fleet, name)
    page = client.get("/admin/users")
    me = _account(fleet, name).id
    r = client.post(f"/admin/users/{me}", data={"action": "disable", "csrf": _csrf(page.text)})
    assert r.status_code == 400 and "your own account" in r.text
    assert _account(fleet, name).disabled_at is None
