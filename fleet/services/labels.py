"""Node labels: one sticker, two audiences, never with the AppKey on it.

The large QR is a short URL, `<public_url>/b/<asset id>` (the fleet's number for the node), which any
phone camera opens: a signed-in crew member lands on the node page, anyone else on the bin's public page.
The small second QR is the LoRa Alliance TR005 string (`LW:D0:JoinEUI:DevEUI:ProfileID`) for network-server
claiming apps, labelled as such. The SVG label adds the node's name and DevEUI; a sheet is a printable
HTML page of such labels (A4, 3 across), so a technician can print a batch before a round.
"""

import html
import io

import segno

from fleet.models import Device
from fleet.settings import Settings
from protocols import identity


def tr005(device: Device, cfg: Settings) -> str:
    return identity.tr005(device.join_eui, device.dev_eui, cfg.tr005_profile_id)


def node_url(device: Device, cfg: Settings) -> str:
    return cfg.public_url.rstrip("/") + cfg.node_page_path.format(dev_eui=device.dev_eui)


BIN_PATH = "/b/{asset_id}"
TR005_CAPTION = "LoRaWAN TR005"  # what the small code is, for whoever holds a claiming app


def bin_url(device: Device, cfg: Settings) -> str:
    """The sticker's URL. The asset id is the fleet's number for the node: a few digits keep the QR at
    version 2-3, large modules that a phone reads from arm's length on a dirty bin."""
    return cfg.public_url.rstrip("/") + BIN_PATH.format(asset_id=device.id)


def qr_png(device: Device, cfg: Settings, scale: int = 6) -> bytes:
    """The code a phone camera scans (the bin URL), alone, e.g. for a label printer's template."""
    buf = io.BytesIO()
    segno.make(bin_url(device, cfg), error="m", micro=False).save(buf, kind="png", scale=scale, border=4)
    return buf.getvalue()


def label_svg(device: Device, cfg: Settings, scale: int = 4) -> str:
    qr = segno.make(bin_url(device, cfg), error="m", micro=False)
    size = qr.symbol_size(scale=scale, border=4)[0]
    buf = io.BytesIO()
    qr.save(buf, kind="svg", scale=scale, border=4, xmldecl=False, svgns=True)
    inner = buf.getvalue().decode()
    # The TR005 code at half the module size, beside its caption below the main text.
    small = segno.make(tr005(device, cfg), error="m", micro=False)
    small_size = small.symbol_size(scale=max(1, scale // 2), border=4)[0]
    buf = io.BytesIO()
    small.save(buf, kind="svg", scale=max(1, scale // 2), border=4, xmldecl=False, svgns=True)
    small_inner = buf.getvalue().decode()
    width = max(size, 220)
    text = [
        (16, 14, "bold", device.name or device.dev_eui),
        (30, 10, "normal", f"DevEUI {device.dev_eui}"),
        (42, 8, "normal", bin_url(device, cfg)),
        (58 + small_size, 8, "normal", f"{TR005_CAPTION} (network server)"),
    ]
    height = size + 64 + small_size
    lines = "".join(
        f'<text x="{width / 2:.0f}" y="{size + dy}" font-family="sans-serif" font-size="{fs}" '
        f'font-weight="{fw}" text-anchor="middle">{html.escape(t)}</text>'
        for dy, fs, fw, t in text
    )
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}"><g transform="translate({(width - size) / 2:.0f},0)">{inner}</g>'
        f'<g transform="translate({(width - small_size) / 2:.0f},{size + 48})">{small_inner}</g>'
        f"{lines}</svg>"
    )


def sheet_html(devices: list[Device], cfg: Settings) -> str:
    cells = "".join(f'<div class="label">{label_svg(d, cfg)}</div>' for d in devices)
    return (
        "<!doctype html><html><head><meta charset='utf-8'><title>Kumpel labels</title><style>"
        "@page{size:A4;margin:10mm}body{margin:0;font-family:sans-serif}"
        ".sheet{display:grid;grid-template-columns:repeat(3,1fr);gap:4mm}"
        ".label{border:1px dashed #999;padding:2mm;text-align:center;break-inside:avoid}"
        ".label svg{max-width:100%;height:auto}</style></head>"
        f"<body><div class='sheet'>{cells}</div></body></html>"
    )
