"""verification runs and the device's provisioned_at

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-30 16:40:00

Replaces the node tool's workaround (device tags `provisioning` / `provisioned` plus a maintenance note per
verify run) with a `verification` table and `device.provisioned_at`. A device tagged `provisioned` gets
the time of its newest "kumpel node verify passed" note (else its creation time) as `provisioned_at`; both
workaround tags are removed from every device. Downgrade tags a device with `provisioned_at` as
`provisioned` again (the old node tool treats a device without that tag as not verified).

SQLite note: only ALTER TABLE ADD/DROP COLUMN is used on `device`, never a batch table copy, because
dropping the old table with foreign keys on would cascade-delete every uplink, reading and note.
"""

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

TAG_PENDING, TAG_DONE = "provisioning", "provisioned"  # the node tool's old workaround
PASSED_NOTE = "kumpel node verify passed"

_device = sa.table(
    "device",
    sa.column("id", sa.Integer),
    sa.column("tags", sa.JSON),
    sa.column("created_at", sqlmodel.sql.sqltypes.UTCDateTime),
    sa.column("provisioned_at", sqlmodel.sql.sqltypes.UTCDateTime),
)
_note = sa.table(
    "maintenancenote",
    sa.column("device_id", sa.Integer),
    sa.column("text", sa.String),
    sa.column("created_at", sqlmodel.sql.sqltypes.UTCDateTime),
)


def upgrade() -> None:
    op.create_table(
        "verification",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("device_id", sa.Integer(), nullable=False),
        sa.Column("created_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("ok", sa.Boolean(), nullable=False),
        sa.Column("micropython", sqlmodel.sql.sqltypes.AutoString(length=120), nullable=False),
        sa.Column("tool", sqlmodel.sql.sqltypes.AutoString(length=80), nullable=False),
        sa.Column("author", sqlmodel.sql.sqltypes.AutoString(length=80), nullable=False),
        sa.Column("checks", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(["device_id"], ["device.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_verification_device_latest", "verification", ["device_id", "id"], unique=False)
    op.add_column("device", sa.Column("provisioned_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True))

    conn = op.get_bind()
    rows = conn.execute(sa.select(_device.c.id, _device.c.tags, _device.c.created_at)).all()
    for device_id, tags, created_at in rows:
        tags = list(tags or [])
        if TAG_PENDING not in tags and TAG_DONE not in tags:
            continue
        values = {"tags": [t for t in tags if t not in (TAG_PENDING, TAG_DONE)]}
        if TAG_DONE in tags:
            passed = conn.execute(
                sa.select(sa.func.max(_note.c.created_at)).where(
                    _note.c.device_id == device_id, _note.c.text.like(PASSED_NOTE + "%")
                )
            ).scalar()
            values["provisioned_at"] = passed or created_at
        conn.execute(sa.update(_device).where(_device.c.id == device_id).values(**values))


def downgrade() -> None:
    conn = op.get_bind()
    for device_id, tags in conn.execute(
        sa.select(_device.c.id, _device.c.tags).where(_device.c.provisioned_at.is_not(None))
    ).all():
        tags = [t for t in (tags or []) if t != TAG_DONE]
        conn.execute(sa.update(_device).where(_device.c.id == device_id).values(tags=[*tags, TAG_DONE]))
    op.drop_column("device", "provisioned_at")
    op.drop_index("ix_verification_device_latest", table_name="verification")
    op.drop_table("verification")
