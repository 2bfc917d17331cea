"""`kumpel fleet user ...`: the accounts people sign in to the pages with (machines use API tokens).

Passwords are read from a hidden prompt (asked twice), or from the first line of stdin with
`--password-stdin` for scripts; never from the command line, where `ps` and the shell history would keep
them. Every rule is fleet.services.accounts'.
"""

import sys
from collections.abc import Callable

import typer
from rich.table import Table

users_app = typer.Typer(no_args_is_help=True, help="User accounts for the pages (tokens are for machines).")


def _password(from_stdin: bool) -> str:
    if from_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    return typer.prompt("password", hide_input=True, confirmation_prompt=True)


def _account(session, username: str):  # noqa: ANN001, ANN202
    from fleet.cli import _fail
    from fleet.services import accounts

    account = accounts.by_name(session, username)
    if account is None:
        _fail(f"no user {username!r} (kumpel fleet user list shows them)")
    return account


@users_app.command("add")
def user_add(
    username: str,
    role: str = typer.Option(..., help="admin | technician | viewer"),
    name: str = typer.Option("", help="the name shown on pages and in the maintenance log"),
    password_stdin: bool = typer.Option(False, "--password-stdin", help="read the password from stdin"),
) -> None:
    """Create an account; asks for its first password."""
    from fleet.cli import _db, _fail, console
    from fleet.services import accounts

    password = _password(password_stdin)
    with _db() as (session, _, _a):
        try:
            account = accounts.create(
                session, username=username, password=password, role=role, display_name=name
            )
        except accounts.AccountError as exc:
            _fail(str(exc))
        session.commit()
        console.print(f"user {account.username} ({account.role}) created")


@users_app.command("list")
def user_list() -> None:
    """Every account: role, active or disabled, last sign-in."""
    from fleet.cli import _db, console
    from fleet.services import accounts

    with _db() as (session, _, _a):
        table = Table("user", "name", "role", "state", "last sign-in", title="users")
        for a in accounts.all_accounts(session):
            table.add_row(
                a.username,
                a.display_name,
                a.role,
                "[red]disabled[/]" if a.disabled_at else "active",
                a.last_signin_at.isoformat(timespec="minutes") if a.last_signin_at else "never",
            )
        console.print(table)


def _set_state(username: str, change: Callable[..., None], done: str) -> None:
    """Disable and enable take the same steps; only the service call and the words differ."""
    from fleet.cli import _db, console

    with _db() as (session, _, _a):
        account = _account(session, username)
        change(session, account)
        session.commit()
        console.print(f"user {account.username} {done}")


@users_app.command("disable")
def user_disable(username: str) -> None:
    """The account can no longer sign in; its open sessions and sign-in links end now."""
    from fleet.services import accounts

    _set_state(username, accounts.disable, "disabled")


@users_app.command("enable")
def user_enable(username: str) -> None:
    """Allow a disabled account to sign in again."""
    from fleet.services import accounts

    _set_state(username, accounts.enable, "enabled")


@users_app.command("password")
def user_password(
    username: str,
    password_stdin: bool = typer.Option(False, "--password-stdin", help="read the password from stdin"),
) -> None:
    """Set a new password (ends the account's open sessions)."""
    from fleet.cli import _db, _fail, console
    from fleet.services import accounts

    password = _password(password_stdin)
    with _db() as (session, _, _a):
        account = _account(session, username)
        try:
            accounts.set_password(session, account, password)
        except accounts.AccountError as exc:
            _fail(str(exc))
        session.commit()
        console.print(f"new password set for {account.username}")
