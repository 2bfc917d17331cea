"""user accounts for field crews and one-time sign-in links

Revision ID: 0006
Revises: 0003
Create Date: 2026-12-02 05:30:00

People sign in to the pages with a user name and an argon2id-hashed password (`user_account`); a phone
signs in by scanning a one-time link a signed-in crew member shows as a QR code (`signin_link`, only the
link's SHA-256 stored). API tokens stay for machines. Devices already have `lat` / `lon` (0001), which the
map uses: nothing to add there.
"""

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = "0006"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "user_account",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("username", sqlmodel.sql.sqltypes.AutoString(length=60), nullable=False),
        sa.Column("display_name", sqlmodel.sql.sqltypes.AutoString(length=80), nullable=False),
        sa.Column("role", sqlmodel.sql.sqltypes.AutoString(length=12), nullable=False),
        sa.Column("password_hash", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("session_epoch", sa.Integer(), nullable=False),
        sa.Column("failed_signins", sa.Integer(), nullable=False),
        sa.Column("last_failed_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.Column("created_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("last_signin_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.Column("disabled_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_user_account_username", "user_account", ["username"], unique=True)
    op.create_table(
        "signin_link",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("token_hash", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("created_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("expires_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("used_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(["user_id"], ["user_account.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_signin_link_token_hash", "signin_link", ["token_hash"], unique=True)
    op.create_index("ix_signin_link_user_id", "signin_link", ["user_id"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_signin_link_user_id", table_name="signin_link")
    op.drop_index("ix_signin_link_token_hash", table_name="signin_link")
    op.drop_table("signin_link")
    op.drop_index("ix_user_account_username", table_name="user_account")
    op.drop_table("user_account")
