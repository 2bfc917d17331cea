"""`kumpel codec`: encode, decode and size wire-contract frames from a laptop (SPEC: protocols/SPEC.md).

For a technician reading a raw payload out of the network server console, or an engineer checking what a
config change costs on air. Bad input is one line on stderr and exit code 2, never a traceback.
"""

import json

import typer

from protocols import airtime, codec

app = typer.Typer(no_args_is_help=True)

FRAMES = ("measurement", "batch", "status", "config_report", "config", "command")
FRAME_PORTS = {
    "measurement": codec.PORT_MEASUREMENT,
    "batch": codec.PORT_BATCH,
    "status": codec.PORT_STATUS,
    "config_report": codec.PORT_CONFIG_REPORT,
    "config": codec.PORT_CONFIG,
    "command": codec.PORT_COMMAND,
}


def _fail(message: str) -> None:
    typer.echo("error: " + message, err=True)
    raise typer.Exit(2)


def encode_frame(frame: str, obj: object) -> bytes:
    """The frame's encoder applied to a JSON object (config_report: {"config_version", "entries"})."""
    if frame == "measurement":
        return codec.encode_measurement(obj)
    if frame == "batch":
        return codec.encode_batch(obj)
    if frame == "status":
        return codec.encode_status(obj)
    if frame == "config":
        return codec.encode_config(obj)
    if frame == "command":
        return codec.encode_command(obj.get("command") if isinstance(obj, dict) else obj)
    if not isinstance(obj, dict) or "config_version" not in obj or "entries" not in obj:
        raise codec.CodecError(
            "format", 'config_report needs {"config_version": n, "entries": [[setting_id, status], ...]}'
        )
    return codec.encode_config_report(obj["config_version"], obj["entries"])


def parse_hex(text: str) -> bytes:
    """Hex as consoles show it: '21ed33', '21 ED 33', '21:ed:33' or '0x21ed33'."""
    cleaned = text.strip().lower().removeprefix("0x")
    for sep in (" ", ":", "-"):
        cleaned = cleaned.replace(sep, "")
    try:
        return bytes.fromhex(cleaned)
    except ValueError:
        raise ValueError(f"{text!r} is not a hex byte string (e.g. 21ed33b7d540)") from None


@app.command()
def encode(
    frame: str = typer.Argument(..., help="Frame type: " + ", ".join(FRAMES) + "."),
    json_text: str = typer.Option(..., "--json", help="The frame's fields as a JSON object."),
) -> None:
    """Encode a frame from JSON; prints its hex (the fPort is the frame type's, see SPEC.md)."""
    if frame not in FRAME_PORTS:
        _fail(f"unknown frame {frame!r}; expected one of: {', '.join(FRAMES)}")
    try:
        obj = json.loads(json_text)
    except ValueError as e:
        _fail(f"--json is not valid JSON: {e}")
    try:
        data = encode_frame(frame, obj)
    except codec.CodecError as e:
        _fail(str(e))
    typer.echo(data.hex())


@app.command()
def decode(
    hex_payload: str = typer.Argument(..., metavar="HEX", help="Payload bytes in hex."),
    port: int = typer.Option(..., "--port", help="LoRaWAN fPort: 1-4 uplink, 10-11 downlink."),
    bin_height_cm: float | None = typer.Option(
        None, "--bin-height-cm", help="Add fill_pct to each reading, as the fleet does."
    ),
) -> None:
    """Decode an uplink or downlink payload; prints JSON."""
    try:
        data = parse_hex(hex_payload)
    except ValueError as e:
        _fail(str(e))
    try:
        if port in codec.DOWNLINK_PORTS:
            decoded = codec.decode_downlink(port, data)
        else:
            decoded = codec.decode_uplink(port, data)
    except codec.CodecError as e:
        _fail(str(e))
    if bin_height_cm is not None:
        readings = decoded.get("readings") or ([decoded] if decoded["type"] == "measurement" else [])
        for r in readings:
            r["fill_pct"] = codec.fill_percent(r["distance_cm"], bin_height_cm)
    typer.echo(json.dumps(decoded))


@app.command("airtime")
def airtime_cmd(
    nbytes: int = typer.Option(..., "--bytes", help="Application payload size in bytes."),
    sf: int | None = typer.Option(None, "--sf", help="Spreading factor 7..12 (default: all)."),
) -> None:
    """Time on air (EU868, 125 kHz) and how many such uplinks fit a day: 1 % duty cycle, 30 s fair use."""
    if sf is not None and not 7 <= sf <= 12:
        _fail(f"--sf must be 7..12, got {sf}")
    rows = []
    for dr in sorted(airtime.DATA_RATES, reverse=True):
        dr_sf = airtime.sf_for_dr(dr)
        if sf is not None and dr_sf != sf:
            continue
        try:
            toa = airtime.time_on_air_ms(nbytes, dr_sf)
        except airtime.AirtimeError as e:
            _fail(str(e))
        fits = nbytes <= airtime.max_payload(dr)
        rows.append(
            f"SF{dr_sf} (DR{dr}): {toa:.3f} ms on air; "
            f"{airtime.uplinks_per_day_duty_cycle(toa)} uplinks/day under 1 % duty cycle, "
            f"{airtime.uplinks_per_day_fair_use(toa)} under the 30 s fair-use budget"
            + ("" if fits else f"; TOO BIG: DR{dr} carries at most {airtime.max_payload(dr)} bytes")
        )
    typer.echo(f"{nbytes} application bytes (+13 LoRaWAN framing):")
    for row in rows:
        typer.echo("  " + row)
