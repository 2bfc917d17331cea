"""Migration 0009 (citizen reports and their photos): it matches the models, and it goes down and up again
on a database that already holds a report."""

from fleet_helpers import downgrade, schema_diffs
from sqlalchemy import create_engine, inspect
from sqlmodel import Session

from fleet import db as fleet_db
from fleet.models import CitizenReport, Device

TABLES = {"citizen_report", "citizen_report_photo"}


def test_0009_matches_the_models_and_round_trips(tmp_path):
    engine = create_engine(f"sqlite:///{tmp_path / 'fleet.db'}")
    fleet_db.migrate(engine)
    assert schema_diffs(engine, TABLES) == []
    with Session(engine) as session:
        device = Device(dev_eui="70B3D57ED0000009", join_eui="0000000000000000")
        session.add(device)
        session.flush()
        session.add(CitizenReport(device_id=device.id, service_code="bin_full"))
        session.commit()
    downgrade(engine, "0007")
    assert not TABLES & set(inspect(engine).get_table_names())
    fleet_db.migrate(engine)
    assert TABLES <= set(inspect(engine).get_table_names())
    engine.dispose()
