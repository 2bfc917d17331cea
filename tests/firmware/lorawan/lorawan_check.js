// LoRaWAN frames through the npm package lora-packet: an implementation neither the node stack nor the
// simulated network server shares code with. Node.js only.
//   node lorawan_check.js parse <cases.json>  -> JSON list of parsed fields per case (MIC checked, decrypted)
//   node lorawan_check.js build <cases.json>  -> JSON list of PHYPayload hex built by lora-packet
// Hex keys; fcnt_msb = a counter's upper 16 bits, little-endian as in the B0/Ai blocks; EUIs, DevAddr, nonces as printed (big-endian), lora-packet reverses them on the wire.
'use strict';
var fs = require('fs');
var lp = require('lora-packet');

function buf(hex) {
  return hex === undefined || hex === null ? undefined : Buffer.from(hex, 'hex');
}

function parse(c) {
  var packet = lp.fromWire(buf(c.phy));
  var mtype = packet.getMType();
  var out = { mtype: mtype };
  if (mtype === 'Join Request') {
    out.mic_ok = lp.verifyMIC(packet, undefined, buf(c.app_key));
    out.join_eui = packet.AppEUI.toString('hex');
    out.dev_eui = packet.DevEUI.toString('hex');
    out.dev_nonce = packet.DevNonce.readUInt16BE(0);
    return out;
  }
  if (mtype === 'Join Accept') {
    var plain = c.encrypted === false ? packet : lp.fromWire(lp.decryptJoinAccept(packet, buf(c.app_key)));
    out.mic_ok = lp.verifyMIC(plain, undefined, buf(c.app_key));
    out.join_nonce = plain.AppNonce.toString('hex');
    out.net_id = plain.NetID.toString('hex');
    out.dev_addr = plain.DevAddr.toString('hex');
    out.rx1_dr_offset = plain.getDLSettingsRxOneDRoffset();
    out.rx2_dr = plain.getDLSettingsRxTwoDataRate();
    out.rx_delay = plain.getRxDelayDel();
    out.cflist = plain.CFList.toString('hex');
    return out;
  }
  var msb = buf(c.fcnt_msb || '0000');
  out.mic_ok = lp.verifyMIC(packet, buf(c.nwk_s_key), undefined, msb);
  out.dev_addr = packet.DevAddr.toString('hex');
  out.fcnt = packet.getFCnt();
  out.fport = packet.getFPort();
  out.adr = packet.getFCtrlADR();
  out.ack = packet.getFCtrlACK();
  out.confirmed = packet.isConfirmed();
  out.fopts = packet.FOpts.toString('hex');
  out.payload = out.fport === null ? '' : lp.decrypt(packet, buf(c.app_s_key), buf(c.nwk_s_key), msb).toString('hex');
  return out;
}

function build(c) {
  var f = c.fields;
  var fields = {};
  Object.keys(f).forEach(function (k) {
    fields[k] = typeof f[k] === 'string' ? buf(f[k]) : f[k];
  });
  if (f.MType !== undefined) fields.MType = f.MType;
  var packet = lp.fromFields(fields, buf(c.app_s_key), buf(c.nwk_s_key), buf(c.app_key), buf(c.fcnt_msb));
  return packet.getPHYPayload().toString('hex');
}

var mode = process.argv[2];
var cases = JSON.parse(fs.readFileSync(process.argv[3], 'utf8'));
var results = cases.map(function (c) {
  try {
    return mode === 'parse' ? parse(c) : build(c);
  } catch (e) {
    return { error: String(e) };
  }
});
process.stdout.write(JSON.stringify(results));
