"""LoRa Alliance TR005 QR labels (`LW:D0:JoinEUI:DevEUI:ProfileID`), never with the AppKey in them.

The SVG label carries the QR code, the node's name, its DevEUI and the link to its page; a sheet is a
printable HTML page of such labels (A4, 3 across), so a technician can print a batch before a round.
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


def qr_png(device: Device, cfg: Settings, scale: int = 6) -> bytes:
    buf = io.BytesIO()
    segno.make(tr005(device, cfg), error="m", micro=False).save(buf, kind="png", scale=scale, border=2)
    return buf.getvalue()


def label_svg(device: Device, cfg: Settings, scale: int = 4) -> str:
    qr = segno.make(tr005(device, cfg), error="m", micro=False)
    size = qr.symbol_size(scale=scale, border=2)[0]
    buf = io.BytesIO()
    qr.save(buf, kind="svg", scale=scale, border=2, xmldecl=False, svgns=True)
    inner = buf.getvalue().decode()
    height = size + 46
    width = max(size, 220)
    text = [
        (16, 14, "bold", device.name or device.dev_eui),
        (30, 10, "normal", f"DevEUI {device.dev_eui}"),
        (42, 8, "normal", node_url(device, cfg)),
    ]
    lines = "".join(
        f'<text x="{width / 2:.0f}" y="{size + dy}" font-family="sans-serif" font-size="{fs}" '
        f'font-weight="{fw}" text-anchor="middle">{html.escape(t)}</text>'
        for dy, fs, fw, t in text
    )
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}"><g transform="translate({(width - size) / 2:.0f},0)">{inner}</g>'
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
