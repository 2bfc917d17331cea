"""citizen reports (Open311 GeoReport v2) and their photos

Revision ID: 0009
Revises: 0007
Create Date: 2026-12-02 06:15:00

A citizen's report at a bin (`citizen_report`; its id is the Open311 service_request_id and the
reference number) and its EXIF-free photo (`citizen_report_photo`). E-mail and the rate-limit key are
nullable: they are erased when a report closes.
"""

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = "0009"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "citizen_report",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("device_id", sa.Integer(), nullable=False),
        sa.Column("service_code", sqlmodel.sql.sqltypes.AutoString(length=30), nullable=False),
        sa.Column("status", sqlmodel.sql.sqltypes.AutoString(length=10), nullable=False),
        sa.Column("status_notes", sqlmodel.sql.sqltypes.AutoString(length=1000), nullable=False),
        sa.Column("description", sqlmodel.sql.sqltypes.AutoString(length=4000), nullable=False),
        sa.Column("lat", sa.Float(), nullable=True),
        sa.Column("lon", sa.Float(), nullable=True),
        sa.Column("address", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("email", sqlmodel.sql.sqltypes.AutoString(length=254), nullable=True),
        sa.Column("client_key", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=True),
        sa.Column("source", sqlmodel.sql.sqltypes.AutoString(length=80), nullable=False),
        sa.Column("has_photo", sa.Boolean(), nullable=False),
        sa.Column("requested_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("updated_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("closed_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.Column("closed_by", sqlmodel.sql.sqltypes.AutoString(length=80), nullable=True),
        sa.ForeignKeyConstraint(["device_id"], ["device.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_citizen_report_device_open", "citizen_report", ["device_id", "status"])
    op.create_index("ix_citizen_report_requested", "citizen_report", ["requested_at"])
    op.create_index("ix_citizen_report_client", "citizen_report", ["client_key", "requested_at"])
    op.create_table(
        "citizen_report_photo",
        sa.Column("report_id", sa.Integer(), nullable=False),
        sa.Column("content_type", sqlmodel.sql.sqltypes.AutoString(length=30), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        sa.ForeignKeyConstraint(["report_id"], ["citizen_report.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("report_id"),
    )


def downgrade() -> None:
    op.drop_table("citizen_report_photo")
    op.drop_index("ix_citizen_report_client", table_name="citizen_report")
    op.drop_index("ix_citizen_report_requested", table_name="citizen_report")
    op.drop_index("ix_citizen_report_device_open", table_name="citizen_report")
    op.drop_table("citizen_report")
