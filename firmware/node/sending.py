"""The radio side of the wake cycle: join when needed, send what is due, hand downlinks back.

Split out of app.py so the cycle knows nothing of AT commands or MAC internals: everything here goes
through the link interface (node/link.py), whichever the board has (RAK3172/RUI3 or native SX1262).
"""

# ruff: noqa: UP031  (printf-style formatting: works on every MicroPython build, f-strings need MICROPY_PY_FSTRINGS)

import time

from micropython import const

from node import log, store

JOIN_BACKOFF_BASE_S = const(900)  # 15 min, doubled per failed join ...
JOIN_BACKOFF_MAX_S = const(21600)  # ... up to 6 h, so a node in a dead zone tries 4 times a day
MAX_UPLINKS_PER_CYCLE = const(4)
FOPTS_MAX = const(15)  # LoRaWAN 1.0.x FOpts: room the modem's MAC answers may take in a frame


def make_link(node):
    """The board's link (boards profile "link"), made on first use: a quiet cycle never loads it."""
    if node.hw.get("link") == "native":
        from node.link_native import for_node

        return for_node(node)
    from node.link_rui3 import Rui3Link

    return Rui3Link(node.hw, node.prov, node.cfg, identity_set=node.state.has(store.F_IDENTITY_SET))


def send_due(node, next_uplink, unload):
    """Send what is due, most urgent first, at most MAX_UPLINKS_PER_CYCLE frames (joins count)."""
    st = node.state
    while node.uplinks < MAX_UPLINKS_PER_CYCLE:
        nxt = next_uplink()
        unload()  # the frame is built: its encoder is not needed while the radio works
        if nxt is None:
            return
        link = node.link
        if not st.has(store.F_JOINED):
            if not ensure_joined(node):
                return
            nxt = next_uplink()  # again: a status must count this join
            unload()
        fport, payload, samples = nxt
        nxt = None
        node._feed()
        try:
            sent, acked, downlinks, rssi, snr, _wait_s, why = link.send(fport, payload, node.cfg["confirmed"])
        except link.NOT_JOINED:
            log.warning("%s lost its session: join again" % link.NAME)
            st.set(store.F_JOINED, False)
            st.radio_errors += 1
            node.uplinks += 1  # counts against the cycle's budget: no join/send loop
            continue
        except link.SILENT as e:
            log.error("%s silent (%s): resetting it" % (link.NAME, e))
            st.radio_errors += 1
            recover(node)
            return
        except link.TOO_LONG:
            # the modem sent the pending MAC answers in an empty frame instead (airtime: counts);
            # the same frame fits now unless the answers are sticky: then leave room for them
            log.warning("fPort %d: %d bytes + MAC answers over the limit" % (fport, len(payload)))
            node.uplinks += 1
            if node.too_long:
                node.fopts_room = FOPTS_MAX
            node.too_long += 1
            continue
        except link.ERROR as e:
            log.error("uplink on fPort %d refused: %s" % (fport, e))
            st.radio_errors += 1
            return
        if not sent:  # the band is closed (duty cycle): the data waits for a later wake
            log.warning("uplink on fPort %d waits: %s" % (fport, why))
            return
        node.uplinks += 1
        if not acked:
            log.warning("confirmed uplink on fPort %d not acknowledged" % fport)
            st.radio_errors += 1
        log.info("uplink fPort %d, %d bytes" % (fport, len(payload)))
        node._sent(fport, samples, acked)
        if rssi is not None:
            st.rssi, st.snr = rssi, snr
        for port, data in downlinks:
            node._downlink(port, data)


def ensure_joined(node):
    st = node.state
    if st.has(store.F_JOINED):
        return True
    now = time.time()
    if now < st.next_join_s:
        log.info("join backoff: next attempt in %d s" % (st.next_join_s - now))
        return False
    node._feed()
    link = node.link
    try:
        joined = link.join(st.join_failures)
        if getattr(link, "identity_set", False):
            st.set(store.F_IDENTITY_SET)
    except link.SILENT as e:
        log.error("%s silent (%s): resetting it" % (link.NAME, e))
        st.radio_errors += 1
        recover(node)
        return False
    except link.ERROR as e:
        log.error("%s setup/join refused: %s" % (link.NAME, e))
        st.radio_errors += 1
        joined = False
    if joined:
        st.set(store.F_JOINED)
        st.join_count += 1
        st.join_failures = 0
        st.next_join_s = 0
        log.info("joined (join %d)" % st.join_count)
        return True
    st.radio_errors += 1
    back_off(node, "join failed")
    return False


def back_off(node, what):
    """Next link attempt 15 min after this wake began, doubled per failure up to 6 h (RTC memory)."""
    st = node.state
    st.join_failures += 1
    delay = min(JOIN_BACKOFF_BASE_S << min(st.join_failures - 1, 8), JOIN_BACKOFF_MAX_S)
    woke_s = time.time() - time.ticks_diff(time.ticks_ms(), node.started_ms) // 1000
    st.next_join_s = woke_s + delay
    log.warning("%s (%d in a row): next attempt in %d s" % (what, st.join_failures, delay))


def recover(node):
    st = node.state
    st.set(store.F_JOINED, False)
    st.set(store.F_IDENTITY_SET, False)  # a reset modem needs its setup again
    if node.link.recover():
        log.info("%s answers again after reset" % node.link.NAME)
        if node.link.kind == "native":
            st.set(store.F_JOINED, node.link.joined)  # the MAC's session survives a radio reset
    else:
        # unpowered or miswired: without a back-off every cycle with data due would spend ~5 s of
        # time-outs and resets on it; the join schedule's back-off applies (no session without it)
        back_off(node, "%s still silent after reset" % node.link.NAME)
