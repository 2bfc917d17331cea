"""Fleet manager configuration: one pydantic-settings class, env `KUMPEL_*` or `.env`.

Unsafe defaults (the development secret key) are refused outside KUMPEL_ENV=development so a
production deployment can never run with a key that is printed in this file.
"""

from typing import Literal

from pydantic import model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEV_SECRET = "dev-insecure-change-me"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="KUMPEL_", env_file=".env", extra="ignore")

    env: Literal["development", "production", "test"] = "development"
    database_url: str = "sqlite:///./var/kumpel.db"
    secret_key: str = DEV_SECRET
    ingest_token: str = ""
    max_body_bytes: int = 64 * 1024
    max_import_bytes: int = 4 * 1024 * 1024
    public_url: str = "http://127.0.0.1:8000"
    node_page_path: str = "/nodes/{dev_eui}"
    tr005_profile_id: str = "00000000"  # VendorID (2 bytes) + vendor profile (2 bytes), hex

    # Open data (DCAT-AP.de record): who publishes, whom to ask, GovData's contributor id (optional URI)
    open_data_publisher: str = "Stadt"
    open_data_contact_email: str = ""
    open_data_contributor_id: str = ""
    # SensorThings API: at most this many queries at once (the rest wait, then get 503), and a time limit
    # per query on PostgreSQL, so open-data readers cannot starve ingest of CPU and connections.
    sta_max_concurrent: int = 2
    sta_statement_timeout_s: int = 15

    # Network server for downlinks and registration: "none" | "chirpstack-grpc" | "chirpstack-mqtt" | "ttn"
    lns: Literal["none", "chirpstack-grpc", "chirpstack-mqtt", "ttn"] = "none"
    chirpstack_grpc: str = ""
    chirpstack_api_token: str = ""
    chirpstack_application_id: str = ""
    chirpstack_device_profile_id: str = ""
    chirpstack_grpc_tls: bool = False
    mqtt_host: str = "127.0.0.1"
    mqtt_port: int = 1883
    mqtt_username: str = ""
    mqtt_password: str = ""
    # The subscriber (`kumpel fleet mqtt`): a stable client id per consumer process keeps its broker
    # session (and the QoS 1 messages queued while it is down) for mqtt_session_expiry_s. The topic
    # filter may be a shared subscription, e.g. $share/kumpel/application/+/device/+/event/+.
    mqtt_client_id: str = ""  # empty: kumpel-fleet-<host name> (a container's host name is its own)
    mqtt_session_expiry_s: int = 7 * 24 * 3600
    mqtt_topic: str = "application/+/device/+/event/+"
    tts_url: str = ""  # e.g. https://eu1.cloud.thethings.network
    tts_application_id: str = ""
    tts_webhook_id: str = ""
    tts_api_key: str = ""

    # Downlink retry policy (ours, not the LNS's): the node's config report is the acknowledgement.
    downlink_max_attempts: int = 5
    downlink_backoff_s: int = 900
    downlink_expiry_s: int = 3 * 24 * 3600

    # /metrics (Prometheus): with a token, only `Authorization: Bearer <metrics_token>` may read it (from
    # anywhere); without one, only clients from these networks (behind a reverse proxy, uvicorn takes the
    # client address from X-Forwarded-For when the proxy is trusted: --forwarded-allow-ips).
    metrics_token: str = ""
    metrics_networks: str = "127.0.0.0/8,::1/128"

    # Health and alerts
    late_factor: float = 1.0  # later than 1x the expected interval: late
    offline_factor: float = 1.5  # later than 1.5x the expected interval: offline (as ChirpStack)
    battery_low_mv: int = 3300
    battery_clear_mv: int = 3400
    battery_empty_mv: int = 3000  # the 3.3 V regulator drops out below this: the node stops reporting
    battery_warning_days: float = 30.0  # warn when the battery trend says fewer days are left
    loss_warning_pct: float = 10.0  # warn at this packet loss (from frame-counter gaps) ...
    loss_min_expected: int = 10  # ... once at least this many uplinks were expected
    stuck_readings: int = 12  # this many identical distance+temperature readings in a row: sensor stuck
    alert_reminder_s: int = 6 * 3600
    sweep_interval_s: int = 60  # background sweep: offline alerts, downlink retries; 0 = off

    # The map on the overview and node page: the city's own tile server (XYZ template, e.g.
    # https://tiles.example.city/{z}/{x}/{y}.png); empty = a plain point plot, nothing fetched elsewhere.
    map_tile_url: str = ""
    map_tile_attribution: str = ""
    map_tile_max_zoom: int = 19
    map_center: str = ""  # "lat, lon" where an empty map opens (before any node has a position)
    # A Nominatim-compatible /search URL for typing an address at install time; empty = coordinates only.
    geocoder_url: str = ""

    # Citizen reports (Open311 GeoReport v2 and the public report page behind the bin's QR code).
    report_limit_per_client_hour: int = 5  # reports one sender (keyed hash of the address / API key) may file
    report_limit_per_bin_hour: int = 10  # reports one bin may collect: a crowd at a bin is one problem
    report_photo_max_bytes: int = 8 * 1024 * 1024  # a phone photo; re-encoded to <= 1600 px JPEG
    open311_contact: str = ""  # discovery: who runs this endpoint (e-mail or phone of the city's office)
    open311_agency: str = ""  # agency_responsible in every request (e.g. the city's waste company)
    open311_jurisdiction: str = ""  # jurisdiction_id; empty = one jurisdiction, the argument is ignored

    @model_validator(mode="after")
    def _refuse_unsafe_secrets(self) -> "Settings":
        if self.env != "development" and self.secret_key == DEV_SECRET:
            raise ValueError("KUMPEL_SECRET_KEY is the development default: set a long random secret")
        if self.env != "development" and len(self.secret_key) < 16:
            raise ValueError("KUMPEL_SECRET_KEY is too short: use at least 16 characters")
        return self


def get_settings() -> Settings:
    return Settings()
