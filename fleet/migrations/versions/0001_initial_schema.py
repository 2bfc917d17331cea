"""initial schema

Revision ID: 0001
Revises: (none)
Create Date: 2026-11-29 02:26:02.173464
"""

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "apitoken",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sqlmodel.sql.sqltypes.AutoString(length=80), nullable=False),
        sa.Column("role", sqlmodel.sql.sqltypes.AutoString(length=12), nullable=False),
        sa.Column("token_hash", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("created_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("last_used_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.Column("revoked_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("apitoken", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_apitoken_token_hash"), ["token_hash"], unique=True)

    op.create_table(
        "device",
        sa.Column("dev_eui", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("join_eui", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("name", sqlmodel.sql.sqltypes.AutoString(length=120), nullable=False),
        sa.Column("hardware_model", sqlmodel.sql.sqltypes.AutoString(length=60), nullable=False),
        sa.Column("board", sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
        sa.Column("ultrasonic", sqlmodel.sql.sqltypes.AutoString(length=20), nullable=True),
        sa.Column("climate", sqlmodel.sql.sqltypes.AutoString(length=20), nullable=True),
        sa.Column("bin_height_cm", sa.Integer(), nullable=True),
        sa.Column("lat", sa.Float(), nullable=True),
        sa.Column("lon", sa.Float(), nullable=True),
        sa.Column("street", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("district", sqlmodel.sql.sqltypes.AutoString(length=80), nullable=False),
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("app_key_enc", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("tags", sa.JSON(), nullable=False),
        sa.Column("lns_registered", sa.Boolean(), nullable=False),
        sa.Column("created_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("last_seen_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.Column("last_fcnt", sa.Integer(), nullable=True),
        sa.Column("expected_interval_s", sa.Integer(), nullable=False),
        sa.Column("late_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.Column("offline_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.Column("rejoins", sa.Integer(), nullable=False),
        sa.Column("health_status", sqlmodel.sql.sqltypes.AutoString(length=10), nullable=False),
        sa.Column("health_reasons", sa.JSON(), nullable=False),
        sa.Column("health_rank", sa.Integer(), nullable=False),
        sa.Column("health_stale", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("device", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_device_dev_eui"), ["dev_eui"], unique=True)
        batch_op.create_index(batch_op.f("ix_device_health_rank"), ["health_rank"], unique=False)
        batch_op.create_index(batch_op.f("ix_device_health_stale"), ["health_stale"], unique=False)
        batch_op.create_index(batch_op.f("ix_device_health_status"), ["health_status"], unique=False)
        batch_op.create_index(batch_op.f("ix_device_last_seen_at"), ["last_seen_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_device_late_at"), ["late_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_device_offline_at"), ["offline_at"], unique=False)

    op.create_table(
        "device_group",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sqlmodel.sql.sqltypes.AutoString(length=80), nullable=False),
        sa.Column("description", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("config", sa.JSON(), nullable=False),
        sa.Column("created_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("device_group", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_device_group_name"), ["name"], unique=True)

    op.create_table(
        "unknowndevice",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("dev_eui", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("join_eui", sqlmodel.sql.sqltypes.AutoString(), nullable=True),
        sa.Column("source", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("first_seen_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("last_seen_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.Column("last_fport", sa.Integer(), nullable=True),
        sa.Column("last_payload_hex", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("detail", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("unknowndevice", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_unknowndevice_dev_eui"), ["dev_eui"], unique=True)

    op.create_table(
        "alert",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("device_id", sa.Integer(), nullable=False),
        sa.Column("kind", sqlmodel.sql.sqltypes.AutoString(length=30), nullable=False),
        sa.Column("severity", sqlmodel.sql.sqltypes.AutoString(length=10), nullable=False),
        sa.Column("message", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("opened_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("closed_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.Column("acknowledged_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.Column("acknowledged_by", sqlmodel.sql.sqltypes.AutoString(), nullable=True),
        sa.Column("last_reminded_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.Column("reminders", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["device_id"], ["device.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("alert", schema=None) as batch_op:
        batch_op.create_index("ix_alert_open", ["device_id", "kind", "closed_at"], unique=False)

    op.create_table(
        "desiredconfig",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("device_id", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("overrides", sa.JSON(), nullable=False),
        sa.Column("settings", sa.JSON(), nullable=False),
        sa.Column("updated_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["device_id"], ["device.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("device_id"),
    )
    op.create_table(
        "event",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("device_id", sa.Integer(), nullable=True),
        sa.Column("kind", sqlmodel.sql.sqltypes.AutoString(length=30), nullable=False),
        sa.Column("message", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.Column("created_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["device_id"], ["device.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("event", schema=None) as batch_op:
        batch_op.create_index("ix_event_device_time", ["device_id", "created_at"], unique=False)

    op.create_table(
        "groupmember",
        sa.Column("group_id", sa.Integer(), nullable=False),
        sa.Column("device_id", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["device_id"], ["device.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["group_id"], ["device_group.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("group_id", "device_id"),
    )
    op.create_table(
        "maintenancenote",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("device_id", sa.Integer(), nullable=False),
        sa.Column("author", sqlmodel.sql.sqltypes.AutoString(length=80), nullable=False),
        sa.Column("text", sqlmodel.sql.sqltypes.AutoString(length=2000), nullable=False),
        sa.Column("created_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["device_id"], ["device.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("maintenancenote", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_maintenancenote_device_id"), ["device_id"], unique=False)

    op.create_table(
        "reportedconfig",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("device_id", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("settings", sa.JSON(), nullable=False),
        sa.Column("key_status", sa.JSON(), nullable=False),
        sa.Column("reported_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(["device_id"], ["device.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("device_id"),
    )
    op.create_table(
        "rollout",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("group_id", sa.Integer(), nullable=False),
        sa.Column("settings", sa.JSON(), nullable=False),
        sa.Column("batch_size", sa.Integer(), nullable=False),
        sa.Column("failure_threshold_pct", sa.Integer(), nullable=False),
        sa.Column("state", sqlmodel.sql.sqltypes.AutoString(length=12), nullable=False),
        sa.Column("current_batch", sa.Integer(), nullable=False),
        sa.Column("halt_reason", sqlmodel.sql.sqltypes.AutoString(), nullable=True),
        sa.Column("created_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("updated_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["group_id"],
            ["device_group.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_table(
        "uplink",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("device_id", sa.Integer(), nullable=False),
        sa.Column("dedup_key", sqlmodel.sql.sqltypes.AutoString(length=120), nullable=False),
        sa.Column("source", sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
        sa.Column("received_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("fport", sa.Integer(), nullable=True),
        sa.Column("fcnt", sa.Integer(), nullable=True),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        sa.Column("frame_type", sqlmodel.sql.sqltypes.AutoString(length=20), nullable=True),
        sa.Column("decoded", sa.JSON(), nullable=True),
        sa.Column("decode_error", sqlmodel.sql.sqltypes.AutoString(), nullable=True),
        sa.Column("rssi", sa.Integer(), nullable=True),
        sa.Column("snr", sa.Float(), nullable=True),
        sa.Column("gateways", sa.Integer(), nullable=False),
        sa.Column("rx_info", sa.JSON(), nullable=True),
        sa.Column("dr", sa.Integer(), nullable=True),
        sa.Column("sf", sa.Integer(), nullable=True),
        sa.Column("frequency", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(["device_id"], ["device.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("dedup_key"),
    )
    with op.batch_alter_table("uplink", schema=None) as batch_op:
        batch_op.create_index("ix_uplink_device_time", ["device_id", "received_at"], unique=False)

    op.create_table(
        "downlink",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("device_id", sa.Integer(), nullable=False),
        sa.Column("kind", sqlmodel.sql.sqltypes.AutoString(length=10), nullable=False),
        sa.Column("fport", sa.Integer(), nullable=False),
        sa.Column("payload", sa.LargeBinary(), nullable=False),
        sa.Column("config_version", sa.Integer(), nullable=True),
        sa.Column("settings", sa.JSON(), nullable=True),
        sa.Column("command", sqlmodel.sql.sqltypes.AutoString(), nullable=True),
        sa.Column("confirmed", sa.Boolean(), nullable=False),
        sa.Column("state", sqlmodel.sql.sqltypes.AutoString(length=12), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("max_attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("expires_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("lns_ref", sqlmodel.sql.sqltypes.AutoString(), nullable=True),
        sa.Column("last_error", sqlmodel.sql.sqltypes.AutoString(), nullable=True),
        sa.Column("rollout_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("updated_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["device_id"], ["device.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(
            ["rollout_id"],
            ["rollout.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("downlink", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_downlink_device_id"), ["device_id"], unique=False)
        batch_op.create_index("ix_downlink_due", ["state", "next_attempt_at"], unique=False)

    op.create_table(
        "reading",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("device_id", sa.Integer(), nullable=False),
        sa.Column("uplink_id", sa.Integer(), nullable=False),
        sa.Column("measured_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("distance_cm", sa.Integer(), nullable=True),
        sa.Column("no_echo", sa.Boolean(), nullable=False),
        sa.Column("fill_pct", sa.Integer(), nullable=True),
        sa.Column("temperature_c", sa.Float(), nullable=True),
        sa.Column("humidity_pct", sa.Float(), nullable=True),
        sa.Column("pressure_hpa", sa.Float(), nullable=True),
        sa.Column("battery_mv", sa.Integer(), nullable=True),
        sa.Column("flags", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(["device_id"], ["device.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["uplink_id"], ["uplink.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("reading", schema=None) as batch_op:
        batch_op.create_index("ix_reading_device_time", ["device_id", "measured_at"], unique=False)

    op.create_table(
        "rolloutnode",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("rollout_id", sa.Integer(), nullable=False),
        sa.Column("device_id", sa.Integer(), nullable=False),
        sa.Column("batch_no", sa.Integer(), nullable=False),
        sa.Column("state", sqlmodel.sql.sqltypes.AutoString(length=12), nullable=False),
        sa.Column("config_version", sa.Integer(), nullable=True),
        sa.Column("detail", sqlmodel.sql.sqltypes.AutoString(), nullable=True),
        sa.ForeignKeyConstraint(["device_id"], ["device.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["rollout_id"], ["rollout.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("rollout_id", "device_id"),
    )
    with op.batch_alter_table("rolloutnode", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_rolloutnode_rollout_id"), ["rollout_id"], unique=False)

    op.create_table(
        "statusreport",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("device_id", sa.Integer(), nullable=False),
        sa.Column("uplink_id", sa.Integer(), nullable=False),
        sa.Column("received_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("fw_version", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("config_version", sa.Integer(), nullable=False),
        sa.Column("reset_cause", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("wake_count", sa.Integer(), nullable=False),
        sa.Column("sensor_errors", sa.Integer(), nullable=False),
        sa.Column("radio_errors", sa.Integer(), nullable=False),
        sa.Column("watchdog_resets", sa.Integer(), nullable=False),
        sa.Column("battery_mv", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(["device_id"], ["device.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["uplink_id"], ["uplink.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("statusreport", schema=None) as batch_op:
        batch_op.create_index("ix_status_device_time", ["device_id", "received_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("statusreport", schema=None) as batch_op:
        batch_op.drop_index("ix_status_device_time")

    op.drop_table("statusreport")
    with op.batch_alter_table("rolloutnode", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_rolloutnode_rollout_id"))

    op.drop_table("rolloutnode")
    with op.batch_alter_table("reading", schema=None) as batch_op:
        batch_op.drop_index("ix_reading_device_time")

    op.drop_table("reading")
    with op.batch_alter_table("downlink", schema=None) as batch_op:
        batch_op.drop_index("ix_downlink_due")
        batch_op.drop_index(batch_op.f("ix_downlink_device_id"))

    op.drop_table("downlink")
    with op.batch_alter_table("uplink", schema=None) as batch_op:
        batch_op.drop_index("ix_uplink_device_time")

    op.drop_table("uplink")
    op.drop_table("rollout")
    op.drop_table("reportedconfig")
    with op.batch_alter_table("maintenancenote", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_maintenancenote_device_id"))

    op.drop_table("maintenancenote")
    op.drop_table("groupmember")
    with op.batch_alter_table("event", schema=None) as batch_op:
        batch_op.drop_index("ix_event_device_time")

    op.drop_table("event")
    op.drop_table("desiredconfig")
    with op.batch_alter_table("alert", schema=None) as batch_op:
        batch_op.drop_index("ix_alert_open")

    op.drop_table("alert")
    with op.batch_alter_table("unknowndevice", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_unknowndevice_dev_eui"))

    op.drop_table("unknowndevice")
    with op.batch_alter_table("device_group", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_device_group_name"))

    op.drop_table("device_group")
    with op.batch_alter_table("device", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_device_offline_at"))
        batch_op.drop_index(batch_op.f("ix_device_late_at"))
        batch_op.drop_index(batch_op.f("ix_device_last_seen_at"))
        batch_op.drop_index(batch_op.f("ix_device_health_status"))
        batch_op.drop_index(batch_op.f("ix_device_health_stale"))
        batch_op.drop_index(batch_op.f("ix_device_health_rank"))
        batch_op.drop_index(batch_op.f("ix_device_dev_eui"))

    op.drop_table("device")
    with op.batch_alter_table("apitoken", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_apitoken_token_hash"))

    op.drop_table("apitoken")
