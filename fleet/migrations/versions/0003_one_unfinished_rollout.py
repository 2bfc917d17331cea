"""at most one unfinished (running or halted) rollout per group, enforced by the database

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-30 17:00:00

The rollout service checks for an unfinished rollout before it starts one and locks the group row on
PostgreSQL; SQLite has no row locks, so a double-clicked "start" could pass the check twice. A partial
unique index makes the rule hold on both. Groups that already hold several unfinished rollouts (allowed
before 0002's era of the rule) keep the newest; older ones are aborted with the reason recorded.
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

INDEX = "ux_rollout_unfinished_group"
UNFINISHED = "state IN ('running', 'halted')"


def upgrade() -> None:
    op.execute(
        sa.text(
            "UPDATE rollout SET state = 'aborted', "
            "halt_reason = 'superseded by a newer rollout of the group (migration 0003)' "
            f"WHERE {UNFINISHED} AND id < (SELECT max(r2.id) FROM rollout r2 "
            f"WHERE r2.group_id = rollout.group_id AND r2.{UNFINISHED})"
        )
    )
    op.create_index(
        INDEX,
        "rollout",
        ["group_id"],
        unique=True,
        sqlite_where=sa.text(UNFINISHED),
        postgresql_where=sa.text(UNFINISHED),
    )


def downgrade() -> None:
    op.drop_index(INDEX, table_name="rollout")
