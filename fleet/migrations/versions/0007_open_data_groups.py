"""open data per group: which nodes the SensorThings API shows, and how far their coordinates are rounded

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-02 05:40:00

A node is public when one of its groups is (an admin's choice); its coordinates are rounded to the
fewest decimals any of its public groups asks for (none: as stored). An index on reading.measured_at
serves the API's city-wide "newest observations" (without it, a sort of every reading).
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("device_group") as batch:
        batch.add_column(sa.Column("open_data", sa.Boolean(), nullable=False, server_default=sa.false()))
        batch.add_column(sa.Column("open_data_decimals", sa.Integer(), nullable=True))
    op.create_index("ix_reading_time", "reading", ["measured_at"])


def downgrade() -> None:
    op.drop_index("ix_reading_time", table_name="reading")
    with op.batch_alter_table("device_group") as batch:
        batch.drop_column("open_data_decimals")
        batch.drop_column("open_data")
