"""User accounts of the people who use the pages: create, check a password, disable, and the one-time
sign-in links a phone scans. Machines keep API tokens (fleet.services.tokens).

Passwords are hashed with argon2id through argon2-cffi (its defaults are RFC 9106's second recommended
profile: 64 MiB, 3 passes, 4 lanes); a hash made with weaker parameters is replaced at the next good
sign-in. A wrong user name costs the same hash as a wrong password, so timing does not tell which names
exist. After `MAX_FAILURES` wrong passwords in a row, an account refuses every attempt for
`LOCK_SECONDS` after the last one (guessing over the network becomes slow; a locked-out crew member waits
minutes, not for an admin).

Sign-in links carry 256 random bits; only their SHA-256 is stored. A link works once (an atomic
UPDATE ... WHERE used_at IS NULL, so two phones scanning the same code cannot both get in), until it
expires, and only while its account is enabled. Issuing a new link voids the account's unused ones.
"""

import hashlib
import re
import secrets
from datetime import datetime, timedelta
from functools import cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import update
from sqlmodel import Session, col, select

from fleet.models import SigninLink, UserAccount, utcnow
from fleet.services.tokens import ROLES

USERNAME = re.compile(r"[a-z0-9][a-z0-9._-]{1,59}")
PASSWORD_MIN = 10  # NIST SP 800-63B asks for at least 8; crews choose their own
PASSWORD_MAX = 256  # long enough for any passphrase, short enough not to be a hashing DoS
MAX_FAILURES = 5
LOCK_SECONDS = 300
LINK_SECONDS = 300  # a sign-in QR is shown to a phone held next to the screen: minutes, not hours

_hasher = PasswordHasher()  # argon2id, RFC 9106 low-memory profile


@cache
def _dummy_hash() -> str:
    """Verified against when the user name is unknown, so that answer costs as long as a wrong password
    (made on first use: hashing costs a noticeable fraction of a second, not to be paid at import)."""
    return _hasher.hash(secrets.token_urlsafe(16))


class AccountError(ValueError):
    """A refused account action. `code` names the reason for the page's wording; the message is English
    for the CLI and logs."""

    def __init__(self, code: str, message: str, **params: object):
        super().__init__(message)
        self.code = code
        self.params = params


def normalize_username(name: str) -> str:
    return name.strip().lower()


def check_username(name: str) -> str:
    name = normalize_username(name)
    if not USERNAME.fullmatch(name):
        raise AccountError(
            "bad_username",
            "user name: 2-60 characters: lower-case letters, digits and . _ - (a letter or digit first)",
        )
    return name


def check_password(password: str) -> str:
    if len(password) < PASSWORD_MIN:
        raise AccountError("short_password", f"password too short: at least {PASSWORD_MIN} characters")
    if len(password) > PASSWORD_MAX:
        raise AccountError("long_password", f"password too long: at most {PASSWORD_MAX} characters")
    return password


def check_role(role: str) -> str:
    if role not in ROLES:
        raise AccountError("bad_role", f"role must be one of {', '.join(ROLES)}")
    return role


def hash_password(password: str) -> str:
    return _hasher.hash(check_password(password))


def by_name(db: Session, username: str) -> UserAccount | None:
    return db.exec(select(UserAccount).where(UserAccount.username == normalize_username(username))).first()


def all_accounts(db: Session) -> list[UserAccount]:
    return list(db.exec(select(UserAccount).order_by(col(UserAccount.username))))


def create(db: Session, *, username: str, password: str, role: str, display_name: str = "") -> UserAccount:
    name = check_username(username)
    check_role(role)
    if by_name(db, name) is not None:
        raise AccountError("exists", f"a user {name!r} exists already", username=name)
    account = UserAccount(
        username=name,
        display_name=display_name.strip()[:80] or name,
        role=role,
        password_hash=hash_password(password),
    )
    db.add(account)
    db.flush()
    return account


def _end_sessions(account: UserAccount) -> None:
    account.session_epoch += 1


def set_password(db: Session, account: UserAccount, password: str) -> None:
    """A new password signs the account out everywhere (stolen phones included)."""
    account.password_hash = hash_password(password)
    account.failed_signins = 0
    _end_sessions(account)
    db.add(account)


def set_role(db: Session, account: UserAccount, role: str) -> None:
    if check_role(role) != account.role:
        account.role = role
        _end_sessions(account)
        db.add(account)


def disable(db: Session, account: UserAccount, now: datetime | None = None) -> None:
    """The account can no longer sign in; its sessions and unused sign-in links end now."""
    if account.disabled_at is None:
        account.disabled_at = now or utcnow()
        _end_sessions(account)
        db.add(account)
    db.exec(
        update(SigninLink)
        .where(col(SigninLink.user_id) == account.id, col(SigninLink.used_at).is_(None))
        .values(used_at=now or utcnow())
    )


def enable(db: Session, account: UserAccount) -> None:
    account.disabled_at = None
    account.failed_signins = 0
    db.add(account)


def _locked_until(account: UserAccount) -> datetime | None:
    if account.failed_signins < MAX_FAILURES or account.last_failed_at is None:
        return None
    return account.last_failed_at + timedelta(seconds=LOCK_SECONDS)


def authenticate(db: Session, username: str, password: str, now: datetime | None = None) -> UserAccount:
    """The account for a user name and password, or AccountError: "failed" (unknown name or wrong
    password, not told apart), "locked" (too many wrong passwords, with `seconds` left) or "disabled"
    (said only to someone who knows the password). Commits the failure count."""
    now = now or utcnow()
    account = by_name(db, username)
    if account is None:
        try:
            _hasher.verify(_dummy_hash(), password)
        except VerificationError:
            pass
        raise AccountError("failed", "unknown user name or wrong password")
    locked = _locked_until(account)
    if locked is not None and now < locked:
        raise AccountError(
            "locked",
            "too many wrong passwords: try again later",
            seconds=int((locked - now).total_seconds()) + 1,
        )
    try:
        _hasher.verify(account.password_hash, password)
    except (VerificationError, InvalidHashError) as exc:
        account.failed_signins = (account.failed_signins if locked is None else 0) + 1
        account.last_failed_at = now
        db.add(account)
        db.commit()
        raise AccountError("failed", "unknown user name or wrong password") from exc
    if account.disabled_at is not None:
        raise AccountError("disabled", f"the account {account.username!r} is disabled")
    if _hasher.check_needs_rehash(account.password_hash):
        account.password_hash = _hasher.hash(password)
    account.failed_signins = 0
    account.last_signin_at = now
    db.add(account)
    db.commit()
    return account


def usable(db: Session, user_id: int, epoch: int, role: str) -> UserAccount | None:
    """The account behind a session cookie if that session still counts: enabled, same role, and not
    ended since (new password, new role, disabled)."""
    account = db.get(UserAccount, user_id)
    if account is None or account.disabled_at is not None:
        return None
    if account.session_epoch != epoch or account.role != role:
        return None
    return account


# --- one-time sign-in links ----------------------------------------------------------------------------
def _link_hash(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


def issue_link(db: Session, account: UserAccount, now: datetime | None = None) -> tuple[str, datetime]:
    """A new one-time sign-in link secret for `account` and when it expires; earlier unused links end."""
    if account.disabled_at is not None:
        raise AccountError("disabled", f"the account {account.username!r} is disabled")
    now = now or utcnow()
    db.exec(
        update(SigninLink)
        .where(col(SigninLink.user_id) == account.id, col(SigninLink.used_at).is_(None))
        .values(used_at=now)
    )
    raw = secrets.token_urlsafe(32)
    expires = now + timedelta(seconds=LINK_SECONDS)
    db.add(SigninLink(user_id=account.id, token_hash=_link_hash(raw), created_at=now, expires_at=expires))
    db.commit()
    return raw, expires


def peek_link(db: Session, raw: str, now: datetime | None = None) -> UserAccount:
    """Whose link this is, without using it up (the phone shows "sign in as ..." first)."""
    now = now or utcnow()
    link = db.exec(select(SigninLink).where(SigninLink.token_hash == _link_hash(raw))).first()
    if link is None:
        raise AccountError("link_unknown", "unknown sign-in link")
    if link.used_at is not None:
        raise AccountError("link_used", "this sign-in link has been used already")
    if link.expires_at <= now:
        raise AccountError("link_expired", "this sign-in link has expired")
    account = db.get(UserAccount, link.user_id)
    if account is None or account.disabled_at is not None:
        raise AccountError("disabled", "the account of this sign-in link is disabled")
    return account


def redeem_link(db: Session, raw: str, now: datetime | None = None) -> UserAccount:
    """Use a sign-in link up and return its account. Exactly one of two simultaneous redeems wins."""
    now = now or utcnow()
    account = peek_link(db, raw, now)
    used = db.exec(
        update(SigninLink)
        .where(
            col(SigninLink.token_hash) == _link_hash(raw),
            col(SigninLink.used_at).is_(None),
            col(SigninLink.expires_at) > now,
        )
        .values(used_at=now)
    )
    if used.rowcount != 1:
        db.rollback()
        raise AccountError("link_used", "this sign-in link has been used already")
    account.last_signin_at = now
    db.add(account)
    db.commit()
    return account
