"""Database tables (SQLModel). Times are timezone-aware UTC (SQLModel's UTCDateTime refuses naive ones).

Shape follows full-stack-fastapi-template: XBase for shared fields, X(table=True), XPublic for what the
API shows. Secrets (AppKey, tokens) only ever live here encrypted or hashed.
"""

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Column, Index, LargeBinary, UniqueConstraint, text
from sqlmodel import Field, SQLModel


def utcnow() -> datetime:
    return datetime.now(UTC)


def _lns_int() -> Any:
    """An integer the network server sends (fCnt, fPort, frequency, DR, SF): uint32 in ChirpStack's
    protobuf, so it needs 64-bit storage (PostgreSQL INTEGER ends at 2^31 - 1). Migration 0004."""
    return Field(default=None, sa_type=BigInteger)


def _json(default: Any = None) -> Any:
    if default is None:
        return Field(default=None, sa_column=Column(JSON, nullable=True))
    return Field(default_factory=lambda: type(default)(), sa_column=Column(JSON, nullable=False))


# --- devices and groups --------------------------------------------------------------------------------
class DeviceBase(SQLModel):
    dev_eui: str = Field(max_length=16, min_length=16, unique=True, index=True)
    join_eui: str = Field(max_length=16, min_length=16)
    name: str = Field(default="", max_length=120)
    hardware_model: str = Field(default="", max_length=60)
    board: str = Field(default="devkit_rak3172", max_length=40)
    # No column default: SQLAlchemy would put it in place of an explicit None ("no sensor fitted").
    # The defaults for a new node live in provisioning.DeviceIn.
    ultrasonic: str | None = Field(default=None, max_length=20)
    climate: str | None = Field(default=None, max_length=20)
    bin_height_cm: int | None = Field(default=None, ge=20, le=1000)
    lat: float | None = Field(default=None, ge=-90, le=90)
    lon: float | None = Field(default=None, ge=-180, le=180)
    street: str = Field(default="", max_length=200)
    district: str = Field(default="", max_length=80)


class Device(DeviceBase, table=True):
    id: int | None = Field(default=None, primary_key=True)
    app_key_enc: str = ""
    tags: list = _json([])
    lns_registered: bool = False
    created_at: datetime = Field(default_factory=utcnow)
    # Cached from what arrives (ingest updates them; health reads them for fleet-wide queries).
    last_seen_at: datetime | None = Field(default=None, index=True)
    last_fcnt: int | None = _lns_int()
    expected_interval_s: int = 15 * 8 * 60  # from the applied config: meas_interval_min x batch_size
    late_at: datetime | None = Field(default=None, index=True)  # last_seen + 1.0 x expected interval
    offline_at: datetime | None = Field(default=None, index=True)  # last_seen + 1.5 x expected interval
    rejoins: int = 0
    health_status: str = Field(default="unknown", max_length=10, index=True)  # ok|warning|critical|unknown
    health_reasons: list = _json([])
    health_rank: int = Field(default=0, index=True)  # worst-first ordering: higher is worse
    health_stale: bool = Field(default=False, index=True)  # uplinks since the verdict: the sweep refreshes
    # When `kumpel node verify` first passed with the current keys (None: not verified yet). A later failed
    # verification leaves it set (the Verification rows show it); new keys clear it.
    provisioned_at: datetime | None = None


class Group(SQLModel, table=True):
    __tablename__ = "device_group"
    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=80, unique=True, index=True)
    description: str = ""
    config: dict = _json({})  # desired settings for every member (node overrides win)
    created_at: datetime = Field(default_factory=utcnow)
    # Open data (migration 0007): members are public in the SensorThings API; coordinates rounded to
    # this many decimals (None: as stored; 3 decimals is about 100 m).
    open_data: bool = Field(default=False, sa_column_kwargs={"server_default": text("false")})
    open_data_decimals: int | None = Field(default=None, ge=0, le=6)


class GroupMember(SQLModel, table=True):
    group_id: int = Field(foreign_key="device_group.id", primary_key=True, ondelete="CASCADE")
    device_id: int = Field(foreign_key="device.id", primary_key=True, ondelete="CASCADE")
    position: int = 0  # precedence when groups disagree: later wins


# --- what arrives -------------------------------------------------------------------------------------
class Uplink(SQLModel, table=True):
    __table_args__ = (Index("ix_uplink_device_time", "device_id", "received_at"),)
    id: int | None = Field(default=None, primary_key=True)
    device_id: int = Field(foreign_key="device.id", ondelete="CASCADE")
    dedup_key: str = Field(max_length=120, unique=True)
    source: str = Field(max_length=20)  # chirpstack | chirpstack-mqtt | ttn
    received_at: datetime = Field(default_factory=utcnow)
    fport: int | None = _lns_int()
    fcnt: int | None = _lns_int()
    data: bytes = Field(default=b"", sa_column=Column(LargeBinary, nullable=False))
    frame_type: str | None = Field(default=None, max_length=20)
    decoded: dict | None = _json()
    decode_error: str | None = None
    rssi: int | None = None  # best over gateways
    snr: float | None = None
    gateways: int = 0
    rx_info: list | None = _json()
    dr: int | None = _lns_int()
    sf: int | None = _lns_int()
    frequency: int | None = _lns_int()


class Reading(SQLModel, table=True):
    __table_args__ = (
        Index("ix_reading_device_time", "device_id", "measured_at"),
        Index("ix_reading_time", "measured_at"),  # city-wide "latest" in the SensorThings API (0007)
    )
    id: int | None = Field(default=None, primary_key=True)
    device_id: int = Field(foreign_key="device.id", ondelete="CASCADE")
    uplink_id: int = Field(foreign_key="uplink.id", ondelete="CASCADE")
    measured_at: datetime
    distance_cm: int | None = None
    no_echo: bool = False
    fill_pct: int | None = None
    temperature_c: float | None = None
    humidity_pct: float | None = None
    pressure_hpa: float | None = None
    battery_mv: int | None = None
    flags: list = _json([])


class StatusReport(SQLModel, table=True):
    """A decoded status frame (fPort 3): reboots, watchdog resets, error counters over time."""

    __table_args__ = (Index("ix_status_device_time", "device_id", "received_at"),)
    id: int | None = Field(default=None, primary_key=True)
    device_id: int = Field(foreign_key="device.id", ondelete="CASCADE")
    uplink_id: int = Field(foreign_key="uplink.id", ondelete="CASCADE")
    received_at: datetime
    fw_version: str = ""
    config_version: int = 0
    reset_cause: str = "unknown"
    wake_count: int = 0
    sensor_errors: int = 0
    radio_errors: int = 0
    watchdog_resets: int = 0
    battery_mv: int | None = None


class UnknownDevice(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    dev_eui: str = Field(max_length=16, unique=True, index=True)
    join_eui: str | None = None
    source: str = ""
    first_seen_at: datetime = Field(default_factory=utcnow)
    last_seen_at: datetime = Field(default_factory=utcnow)
    count: int = 0
    last_fport: int | None = _lns_int()
    last_payload_hex: str = ""
    detail: dict = _json({})


# --- configuration ------------------------------------------------------------------------------------
class DesiredConfig(SQLModel, table=True):
    """Effective desired settings of one node (groups merged, node overrides on top) and its version."""

    id: int | None = Field(default=None, primary_key=True)
    device_id: int = Field(foreign_key="device.id", unique=True, ondelete="CASCADE")
    version: int = 0
    overrides: dict = _json({})
    settings: dict = _json({})
    updated_at: datetime = Field(default_factory=utcnow)


class ReportedConfig(SQLModel, table=True):
    """What the node runs: version from its config report / status, values we know it accepted."""

    id: int | None = Field(default=None, primary_key=True)
    device_id: int = Field(foreign_key="device.id", unique=True, ondelete="CASCADE")
    version: int = 0
    settings: dict = _json({})
    key_status: dict = _json({})  # name -> ok | unknown_key | out_of_range | bad_format
    reported_at: datetime | None = None


class Downlink(SQLModel, table=True):
    __table_args__ = (Index("ix_downlink_due", "state", "next_attempt_at"),)
    id: int | None = Field(default=None, primary_key=True)
    device_id: int = Field(foreign_key="device.id", ondelete="CASCADE", index=True)
    kind: str = Field(max_length=10)  # config | command
    fport: int
    payload: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    config_version: int | None = None
    settings: dict | None = _json()
    command: str | None = None
    confirmed: bool = False
    state: str = Field(default="queued", max_length=12)  # queued|sent|done|failed|expired|superseded
    attempts: int = 0
    max_attempts: int = 5
    next_attempt_at: datetime = Field(default_factory=utcnow)
    expires_at: datetime
    lns_ref: str | None = None
    last_error: str | None = None
    rollout_id: int | None = Field(default=None, foreign_key="rollout.id")
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)


class Rollout(SQLModel, table=True):
    __table_args__ = (  # one unfinished rollout per group (migration 0003)
        Index(
            "ux_rollout_unfinished_group",
            "group_id",
            unique=True,
            sqlite_where=text("state IN ('running', 'halted')"),
            postgresql_where=text("state IN ('running', 'halted')"),
        ),
    )
    id: int | None = Field(default=None, primary_key=True)
    group_id: int = Field(foreign_key="device_group.id")
    settings: dict = _json({})
    batch_size: int = 10
    failure_threshold_pct: int = 20
    state: str = Field(default="running", max_length=12)  # running|halted|completed|aborted
    current_batch: int = 0
    halt_reason: str | None = None
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)


class RolloutNode(SQLModel, table=True):
    __table_args__ = (UniqueConstraint("rollout_id", "device_id"),)
    id: int | None = Field(default=None, primary_key=True)
    rollout_id: int = Field(foreign_key="rollout.id", ondelete="CASCADE", index=True)
    device_id: int = Field(foreign_key="device.id", ondelete="CASCADE")
    batch_no: int
    state: str = Field(default="pending", max_length=12)  # pending|in_progress|succeeded|failed|skipped
    config_version: int | None = None
    detail: str | None = None


# --- people -------------------------------------------------------------------------------------------
class Alert(SQLModel, table=True):
    __table_args__ = (Index("ix_alert_open", "device_id", "kind", "closed_at"),)
    id: int | None = Field(default=None, primary_key=True)
    device_id: int = Field(foreign_key="device.id", ondelete="CASCADE")
    kind: str = Field(max_length=30)  # offline, battery_low, bin_full, fire_alarm, sensor_fault, ...
    severity: str = Field(max_length=10)  # warning | critical
    message: str
    opened_at: datetime = Field(default_factory=utcnow)
    closed_at: datetime | None = None
    acknowledged_at: datetime | None = None
    acknowledged_by: str | None = None
    last_reminded_at: datetime | None = None
    reminders: int = 0


class ApiToken(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=80)
    role: str = Field(max_length=12)  # admin | technician | viewer
    token_hash: str = Field(max_length=64, unique=True, index=True)
    created_at: datetime = Field(default_factory=utcnow)
    last_used_at: datetime | None = None
    revoked_at: datetime | None = None
    expires_at: datetime | None = None  # None: never (machine tokens); people's tokens expire (0004)


class UserAccount(SQLModel, table=True):
    """A person who signs in to the pages with a user name and password (machines keep API tokens).

    `password_hash` is an argon2id PHC string (salt and cost inside it). `session_epoch` is written into
    every session cookie; raising it (disable, new password, new role) ends the sessions already out."""

    __tablename__ = "user_account"
    id: int | None = Field(default=None, primary_key=True)
    username: str = Field(max_length=60, unique=True, index=True)  # stored lower-case
    display_name: str = Field(default="", max_length=80)
    role: str = Field(max_length=12)  # admin | technician | viewer
    password_hash: str = Field(max_length=200)
    session_epoch: int = 0
    failed_signins: int = 0  # wrong passwords in a row (reset by a right one)
    last_failed_at: datetime | None = None
    created_at: datetime = Field(default_factory=utcnow)
    last_signin_at: datetime | None = None
    disabled_at: datetime | None = None


class SigninLink(SQLModel, table=True):
    """A one-time sign-in link (shown as a QR code on a signed-in page): only its SHA-256 is stored; it
    works once (`used_at`), until `expires_at`, and only while its account is enabled."""

    __tablename__ = "signin_link"
    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="user_account.id", ondelete="CASCADE", index=True)
    token_hash: str = Field(max_length=64, unique=True, index=True)
    created_at: datetime = Field(default_factory=utcnow)
    expires_at: datetime
    used_at: datetime | None = None


class Verification(SQLModel, table=True):
    """One run of `kumpel node verify` as the node tool reported it: a pass/fail per check.

    The newest run of a device is the one with the highest id (stored in arrival order); the index
    (device_id, id) makes "latest per device" an index lookup in the device list."""

    __table_args__ = (Index("ix_verification_device_latest", "device_id", "id"),)
    id: int | None = Field(default=None, primary_key=True)
    device_id: int = Field(foreign_key="device.id", ondelete="CASCADE")
    created_at: datetime = Field(default_factory=utcnow)
    ok: bool  # every check passed (the fleet decides, from the checks)
    micropython: str = Field(default="", max_length=120)  # the board's MicroPython version
    tool: str = Field(default="", max_length=80)  # the reporting tool and its version
    author: str = Field(default="", max_length=80)  # the API token's name
    checks: list = _json([])  # [{"name", "ok", "detail"}]


class MaintenanceNote(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    device_id: int = Field(foreign_key="device.id", ondelete="CASCADE", index=True)
    author: str = Field(default="", max_length=80)
    text: str = Field(max_length=2000)
    created_at: datetime = Field(default_factory=utcnow)


class Event(SQLModel, table=True):
    """Append-only log: joins, ACKs, LNS log events, provisioning and config actions."""

    __table_args__ = (Index("ix_event_device_time", "device_id", "created_at"),)
    id: int | None = Field(default=None, primary_key=True)
    device_id: int | None = Field(default=None, foreign_key="device.id", ondelete="CASCADE")
    kind: str = Field(max_length=30)
    message: str = ""
    data: dict = _json({})
    created_at: datetime = Field(default_factory=utcnow)


# --- citizens -----------------------------------------------------------------------------------------
class CitizenReport(SQLModel, table=True):
    """A problem a citizen reported at a bin (public report page or an Open311 client); the Open311
    `service_request_id` is this row's id, which is also the reference number the citizen gets.

    Personal data is optional and short-lived: `email` and `client_key` (a keyed hash of the sender's
    address, for the rate limit) are erased when the report closes (services/citizen.py)."""

    __tablename__ = "citizen_report"
    __table_args__ = (
        Index("ix_citizen_report_device_open", "device_id", "status"),
        Index("ix_citizen_report_requested", "requested_at"),
        Index("ix_citizen_report_client", "client_key", "requested_at"),
    )
    id: int | None = Field(default=None, primary_key=True)
    device_id: int = Field(foreign_key="device.id", ondelete="CASCADE")
    service_code: str = Field(max_length=30)
    status: str = Field(default="open", max_length=10)  # open | closed (Open311's two states)
    status_notes: str = Field(default="", max_length=1000)  # the crew's closing note: the citizen sees it
    description: str = Field(default="", max_length=4000)  # Open311 caps description at 4,000 characters
    lat: float | None = None
    lon: float | None = None
    address: str = Field(default="", max_length=200)
    email: str | None = Field(default=None, max_length=254)  # never shown publicly; erased at close
    client_key: str | None = Field(default=None, max_length=32)  # rate limit only; erased at close
    source: str = Field(default="web", max_length=80)  # web | the Open311 client's API token name
    has_photo: bool = False
    requested_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)
    closed_at: datetime | None = None
    closed_by: str | None = Field(default=None, max_length=80)


class CitizenReportPhoto(SQLModel, table=True):
    """The photo of a report, re-encoded as JPEG without EXIF (no location, no camera serial)."""

    __tablename__ = "citizen_report_photo"
    report_id: int = Field(foreign_key="citizen_report.id", primary_key=True, ondelete="CASCADE")
    content_type: str = Field(default="image/jpeg", max_length=30)
    data: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
