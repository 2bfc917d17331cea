"""Migration 0006 (user accounts, sign-in links): it matches the models, and it goes down and up again on
a database that already holds a fleet."""

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from sqlalchemy import create_engine, inspect, text
from sqlmodel import SQLModel

import fleet.models  # noqa: F401 (the tables)
from fleet import db as fleet_db

TABLES = {"user_account", "signin_link"}


def _alembic(engine, action: str, revision: str) -> None:  # noqa: ANN001
    cfg = Config()
    cfg.set_main_option("script_location", str(fleet_db.MIGRATIONS))
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        getattr(command, action)(cfg, revision)


def test_0006_matches_the_models_and_round_trips(tmp_path):
    engine = create_engine(f"sqlite:///{tmp_path / 'fleet.db'}")
    fleet_db.migrate(engine)
    with engine.connect() as conn:
        diffs = compare_metadata(MigrationContext.configure(conn), SQLModel.metadata)

    assert [
        d for d in diffs if any(name in str(d) for name in TABLES)
    ] == []  # (the whole schema: none today)
    assert TABLES <= set(inspect(engine).get_table_names())
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO user_account (username, display_name, role, password_hash, session_epoch,"
                " failed_signins, created_at) VALUES ('anna', 'Anna', 'technician', 'x', 0, 0, '2026-12-02')"
            )
        )
    _alembic(engine, "downgrade", "0003")
    assert not TABLES & set(inspect(engine).get_table_names())
    fleet_db.migrate(engine)
    assert TABLES <= set(inspect(engine).get_table_names())
    engine.dispose()
