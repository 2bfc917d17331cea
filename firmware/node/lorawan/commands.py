"""MAC commands a Class A EU868 device answers (TS001-1.0.4 §5, RP002 §2.1).

process() walks the commands of one downlink (FOpts or FPort 0) and changes the Mac's state; answers go
to mac.answers (next uplink) or mac.sticky (repeated in every uplink until a downlink arrives:
RXParamSetupAns, RXTimingSetupAns, DlChannelAns). An unknown CID ends the walk: its length is unknown.
"""

from node.lorawan import region

LINK_CHECK = 0x02
LINK_ADR = 0x03
DUTY_CYCLE = 0x04
RX_PARAM_SETUP = 0x05
DEV_STATUS = 0x06
NEW_CHANNEL = 0x07
RX_TIMING_SETUP = 0x08
TX_PARAM_SETUP = 0x09
DL_CHANNEL = 0x0A
DEVICE_TIME = 0x0D

# payload length of each downlink command
_LEN = {
    LINK_CHECK: 2,
    LINK_ADR: 4,
    DUTY_CYCLE: 1,
    RX_PARAM_SETUP: 4,
    DEV_STATUS: 0,
    NEW_CHANNEL: 5,
    RX_TIMING_SETUP: 1,
    TX_PARAM_SETUP: 1,
    DL_CHANNEL: 4,
    DEVICE_TIME: 5,
}


def _freq(b, at):
    return (b[at] | (b[at + 1] << 8) | (b[at + 2] << 16)) * 100


def process(mac, cmds, res):
    i = 0
    n = len(cmds)
    while i < n:
        cid = cmds[i]
        size = _LEN.get(cid)
        if size is None or i + 1 + size > n:
            return  # unknown or truncated: the rest cannot be parsed
        if cid == LINK_ADR:
            end = i
            while end < n and cmds[end] == LINK_ADR and end + 5 <= n:
                end += 5
            _link_adr(mac, cmds[i:end])
            i = end
            continue
        body = cmds[i + 1 : i + 1 + size]
        i += 1 + size
        if cid == LINK_CHECK:
            res.link_check = (body[0], body[1])
        elif cid == DUTY_CYCLE:
            mac.max_dc = body[0] & 0x0F
            mac.answers.append(DUTY_CYCLE)
        elif cid == RX_PARAM_SETUP:
            _rx_param_setup(mac, body)
        elif cid == DEV_STATUS:
            battery = mac.battery() if mac.battery else 255
            margin = max(-32, min(31, mac.last_snr)) & 0x3F
            mac.answers.extend(bytes((DEV_STATUS, battery & 0xFF, margin)))
        elif cid == NEW_CHANNEL:
            _new_channel(mac, body)
        elif cid == RX_TIMING_SETUP:
            mac.rx_delay = (body[0] & 0x0F) or 1
            mac.nv.rx_delay = mac.rx_delay
            mac.sticky.append(RX_TIMING_SETUP)
        elif cid == TX_PARAM_SETUP:
            pass  # RP002 §2.1.9: EU868 devices do not implement TxParamSetupReq, and don't answer it
        elif cid == DL_CHANNEL:
            _dl_channel(mac, body)
        elif cid == DEVICE_TIME:
            secs = body[0] | (body[1] << 8) | (body[2] << 16) | (body[3] << 24)
            res.device_time = secs + body[4] / 256


def _link_adr(mac, block):
    """A block of consecutive LinkADRReq is one atomic command (TS001-1.0.4 §5.3): the channel masks in
    order, DR/TXPower/NbTrans of the last; all applied or none; every request answered with that status."""
    mask = mac.ch_mask
    ok_mask = True
    for at in range(0, len(block), 5):
        chmask = block[at + 2] | (block[at + 3] << 8)
        cntl = (block[at + 4] >> 4) & 0x07
        if cntl == 0:
            mask = chmask
        elif cntl == 6:
            mask = 0
            for c in range(len(mac.channels)):
                if mac.channels[c][0]:
                    mask |= 1 << c
        else:
            ok_mask = False  # RFU for EU868
    last = len(block) - 5
    dr = block[last + 1] >> 4
    power = block[last + 1] & 0x0F
    nb = block[last + 4] & 0x0F
    for c in range(16):
        if (mask >> c) & 1 and (c >= len(mac.channels) or not mac.channels[c][0]):
            ok_mask = False  # enabling an undefined channel
    if not mask:
        ok_mask = False
    ok_dr = dr == 0x0F or (0 <= dr <= region.MAX_DR and _dr_on_any(mac, dr, mask))
    ok_power = power == 0x0F or power <= region.MAX_TX_POWER
    if ok_mask and ok_dr and ok_power:
        mac.ch_mask = mask
        if dr != 0x0F:
            mac.dr = dr
        if power != 0x0F:
            mac.tx_power = power
        mac.nb_trans = nb or 1
    status = (4 if ok_power else 0) | (2 if ok_dr else 0) | (1 if ok_mask else 0)
    for _ in range(len(block) // 5):
        mac.answers.extend(bytes((LINK_ADR, status)))


def _dr_on_any(mac, dr, mask):
    for c in range(len(mac.channels)):
        rng = mac.channels[c][2]
        if (mask >> c) & 1 and (rng & 0x0F) <= dr <= (rng >> 4):
            return True
    return False


def _rx_param_setup(mac, body):
    rx1_offset = (body[0] >> 4) & 0x07
    rx2_dr = body[0] & 0x0F
    freq = _freq(body, 1)
    ok_f = region.valid_freq(freq)
    ok_dr = rx2_dr <= region.MAX_DR
    ok_off = rx1_offset <= 5
    if ok_f and ok_dr and ok_off:
        mac.rx1_offset, mac.rx2_dr, mac.rx2_freq = rx1_offset, rx2_dr, freq
        mac.nv.rx1_offset, mac.nv.rx2_dr = rx1_offset, rx2_dr
    mac.sticky.extend(
        bytes((RX_PARAM_SETUP, (4 if ok_off else 0) | (2 if ok_dr else 0) | (1 if ok_f else 0)))
    )


def _new_channel(mac, body):
    idx = body[0]
    freq = _freq(body, 1)
    rng = body[4]
    ok_f = idx >= 3 and idx < region.MAX_CHANNELS and (freq == 0 or region.valid_freq(freq))
    ok_dr = (rng & 0x0F) <= (rng >> 4) <= region.MAX_DR
    if ok_f and ok_dr:
        while len(mac.channels) <= idx:
            mac.channels.append([0, 0, 0])
        if freq:
            mac.channels[idx] = [freq, 0, rng]
            mac.ch_mask |= 1 << idx
        else:
            mac.channels[idx] = [0, 0, 0]
            mac.ch_mask &= ~(1 << idx)
    mac.answers.extend(bytes((NEW_CHANNEL, (2 if ok_dr else 0) | (1 if ok_f else 0))))


def _dl_channel(mac, body):
    idx = body[0]
    freq = _freq(body, 1)
    ok_f = region.valid_freq(freq)
    ok_up = idx < len(mac.channels) and mac.channels[idx][0] != 0
    if ok_f and ok_up:
        mac.channels[idx][1] = freq
    mac.sticky.extend(bytes((DL_CHANNEL, (2 if ok_up else 0) | (1 if ok_f else 0))))
