"""network-server integers hold their full range; uplinks stored with non-finite numbers are repaired;
API tokens get an optional expiry

Revision ID: 0004
Revises: 0009 (ids are not in order: 0004 was written in parallel with 0006 to 0009)
Create Date: 2026-12-02 05:30:00

fCnt, fPort, DR, SF and frequency are uint32 in ChirpStack's protobuf (frame counters are 32-bit in
LoRaWAN); PostgreSQL's INTEGER ends at 2^31 - 1, so such an uplink was refused with a 500 and lost. They
become BIGINT. SQLite integers are 64-bit already: there the type change is only declared, not rebuilt.

Before this revision an SNR of NaN / Infinity (protobuf JSON "NaN") could be stored on SQLite: as a NaN
token inside the rx_info JSON (which strict JSON readers refuse) and as an infinite REAL. Both become
null ("unknown"), the value ingest now stores for them.
"""

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = "0004"
down_revision = "0009"
branch_labels = None
depends_on = None

LNS_INTEGERS = {
    "uplink": ("fport", "fcnt", "dr", "sf", "frequency"),
    "device": ("last_fcnt",),
    "unknowndevice": ("last_fport",),
}


def _retype(type_: type) -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for table, columns in LNS_INTEGERS.items():
        for column in columns:
            op.alter_column(table, column, type_=type_(), existing_nullable=True)


def upgrade() -> None:
    _retype(sa.BigInteger)
    op.execute(sa.text("UPDATE uplink SET snr = NULL WHERE snr > 1e308 OR snr < -1e308"))
    if op.get_bind().dialect.name == "sqlite":
        # Python's json module wrote NaN / Infinity tokens; gateway ids are hex, never these words.
        fixed = "rx_info"
        for token in ("-Infinity", "Infinity", "NaN"):
            fixed = f"replace({fixed}, '{token}', 'null')"
        op.execute(
            sa.text(
                f"UPDATE uplink SET rx_info = {fixed} WHERE rx_info LIKE '%NaN%' OR rx_info LIKE '%Infinity%'"
            )
        )
    with op.batch_alter_table("apitoken") as batch:
        batch.add_column(sa.Column("expires_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("apitoken") as batch:
        batch.drop_column("expires_at")
    _retype(sa.Integer)
