"""Migration 0006 (user accounts, sign-in links): it matches the models, and it goes down and up again on
a database that already holds a fleet."""

from fleet_helpers import downgrade, schema_diffs
from sqlalchemy import create_engine, inspect, text

import fleet.models  # noqa: F401 (the tables)
from fleet import db as fleet_db

TABLES = {"user_account", "signin_link"}


def test_0006_matches_the_models_and_round_trips(tmp_path):
    engine = create_engine(f"sqlite:///{tmp_path / 'fleet.db'}")
    fleet_db.migrate(engine)

    assert schema_diffs(engine, TABLES) == []
    assert TABLES <= set(inspect(engine).get_table_names())
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO user_account (username, display_name, role, password_hash, session_epoch,"
                " failed_signins, created_at) VALUES ('anna', 'Anna', 'technician', 'x', 0, 0, '2026-12-02')"
            )
        )
    downgrade(engine, "0003")
    assert not TABLES & set(inspect(engine).get_table_names())
    fleet_db.migrate(engine)
    assert TABLES <= set(inspect(engine).get_table_names())
    engine.dispose()
