"""Health rules (connectivity, battery trend, packet loss, alert hysteresis) and the fleet summary."""

from datetime import timedelta

from fleet_helpers import add_device, cs_up, post_up
from sqlmodel import select

from fleet.models import Alert, Device, utcnow
from fleet.services import alerts, health
from fleet.services.sweep import sweep
from fleet.settings import Settings
from protocols import codec


def _measure(client, dev, fcnt, battery_mv=3700, flags=0, distance=60, temperature=20.0, time=None):  # noqa: ANN001
    frame = codec.encode_measurement(
        {
            "distance_cm": distance,
            "no_echo": False,
            "temperature_c": temperature,
            "humidity_pct": 50.0,
            "battery_mv": battery_mv,
            "flags": flags,
        }
    )
    r = post_up(client, cs_up(dev, 1, frame, fcnt=fcnt, time=time))
    assert r.json()["result"] == "stored", r.text


def test_packet_loss_handles_counter_resets():
    assert health.packet_loss([1, 2, 3, 5, 6]) == {
        "received": 4,
        "expected": 5,
        "loss_pct": 20.0,
        "counter_resets": 0,
    }
    # a rejoin restarts the counter at 0: no negative gap, no loss counted across it
    assert health.packet_loss([10, 11, 0, 1, 2]) == {
        "received": 3,
        "expected": 3,
        "loss_pct": 0.0,
        "counter_resets": 1,
    }


def test_battery_trend_and_days_left():
    t0 = utcnow() - timedelta(days=10)
    points = [(t0 + timedelta(days=d), 3600 - 10 * d) for d in range(11)]
    slope, days = health.battery_trend(points, empty_mv=3000)
    assert slope == -10.0 and days == 50.0  # (3500 - 3000) / 10
    assert health.battery_trend(points[:2], empty_mv=3000) == (None, None)


def test_connectivity_states_and_summary(client, tech, db, app):
    devs = [add_device(client, tech, name=f"bin {i}")["dev_eui"] for i in range(4)]
    now = utcnow()
    _measure(client, devs[0], 1, time=now)  # online
    _measure(client, devs[1], 1, time=now - timedelta(minutes=150))  # late: > 120 min, < 180
    _measure(client, devs[2], 1, time=now - timedelta(hours=5))  # offline: > 1.5 x 120 min
    _measure(client, devs[3], 1, flags=["fire_alarm"], temperature=80.0, time=now)  # critical
    states = {d: client.get(f"/api/v1/devices/{d}/health", headers=tech).json() for d in devs}
    assert [states[d]["connectivity"]["state"] for d in devs] == ["online", "late", "offline", "online"]
    assert [states[d]["status"] for d in devs] == ["ok", "warning", "offline", "critical"]
    assert "expected every 2 h 0 min" in states[devs[2]]["reasons"][0]["message"]
    s = client.get("/api/v1/health", headers=tech).json()
    assert s["by_status"] == {"ok": 1, "warning": 1, "critical": 1, "offline": 1, "unknown": 0}
    assert s["connectivity"] == {"online": 2, "late": 1, "offline": 1, "never": 0}
    assert [w["dev_eui"] for w in s["worst"][:3]] == [devs[3], devs[2], devs[1]]
    # an uplink that arrives that late already opened the offline alert; the clock opens the others
    assert [
        a["dev_eui"] for a in client.get("/api/v1/alerts", headers=tech).json() if a["kind"] == "offline"
    ] == [devs[2]]
    assert client.post("/api/v1/sweep", headers=tech).status_code == 403  # admin only
    later = sweep(db, app.state.adapter, app.state.settings, now=utcnow() + timedelta(hours=3))
    assert later["offline_alerts_opened"] == 3
    assert (
        sweep(db, app.state.adapter, app.state.settings, now=utcnow() + timedelta(hours=3))[
            "offline_alerts_opened"
        ]
        == 0
    )
    _measure(client, devs[2], 2, time=utcnow())  # a fresh uplink closes it
    db.expire_all()
    closed = db.exec(select(Alert).where(Alert.kind == "offline", Alert.closed_at.is_not(None))).all()
    assert [a.device_id for a in closed] == [
        db.exec(select(Device).where(Device.dev_eui == devs[2])).one().id
    ]


def test_battery_alert_hysteresis_reminders_and_ack(client, tech, db, app):
    dev = add_device(client, tech)["dev_eui"]
    cfg = app.state.settings
    _measure(client, dev, 1, battery_mv=3240)
    open_ = client.get("/api/v1/alerts", headers=tech).json()
    assert [a["kind"] for a in open_] == ["battery_low"] and open_[0]["message"] == "battery 3.24 V"
    _measure(client, dev, 2, battery_mv=3360)  # above the open threshold, below the clear one: stays open
    assert [a["kind"] for a in client.get("/api/v1/alerts", headers=tech).json()] == ["battery_low"]
    alert = db.exec(select(Alert)).one()
    # reminder after the reminder period, not before; none once acknowledged
    assert alerts.remind_due(db, cfg, utcnow()) == []
    assert len(alerts.remind_due(db, cfg, utcnow() + timedelta(seconds=cfg.alert_reminder_s + 1))) == 1
    db.commit()
    r = client.post(f"/api/v1/alerts/{alert.id}/ack", headers=tech)
    assert r.status_code == 200 and r.json()["acknowledged_by"] == "test-technician"
    db.expire_all()
    assert alerts.remind_due(db, cfg, utcnow() + timedelta(days=2)) == []
    _measure(client, dev, 3, battery_mv=3420)  # at/above the clear threshold: closes
    assert client.get("/api/v1/alerts", headers=tech).json() == []
    assert len(client.get("/api/v1/alerts?open=false", headers=tech).json()) == 1


def test_stuck_sensor_and_fault_flags(client, tech, db):
    dev = add_device(client, tech)["dev_eui"]
    t = utcnow() - timedelta(hours=3)
    for i in range(Settings().stuck_readings):
        _measure(client, dev, i + 1, time=t + timedelta(minutes=15 * i))
    h = client.get(f"/api/v1/devices/{dev}/health", headers=tech).json()
    assert h["stuck"] and any(r["code"] == "stuck" for r in h["reasons"])
    frame = codec.encode_measurement(
        {
            "distance_cm": None,
            "no_echo": False,
            "temperature_c": 20.0,
            "humidity_pct": 50.0,
            "battery_mv": 3700,
            "flags": ["ultrasonic_fault"],
        }
    )
    post_up(client, cs_up(dev, 1, frame, fcnt=50))
    h = client.get(f"/api/v1/devices/{dev}/health", headers=tech).json()
    assert h["sensor_faults"]["ultrasonic_fault"] == 1 and not h["stuck"]
    assert any(r["code"] == "ultrasonic_fault" for r in h["reasons"])
    assert h["packet_loss"]["expected"] == 49 and h["packet_loss"]["received"] == 12
    assert db.exec(select(Device)).one().health_status == "warning"
