// Kumpel wire contract v1 (protocols/SPEC.md) as a LoRaWAN Payload Codec (TS013):
// decodeUplink / encodeDownlink / decodeDownlink for ChirpStack v4 (QuickJS; device variable
// `bin_height_cm` adds fill_pct) and The Things Stack (ECMAScript 5.1, < 40 KB).
// Plain ES5.1 on purpose: no let/const, arrows, template strings or classes. The uplink encoders are
// here too (exported for Node) so the golden vectors prove Python and JavaScript byte-identical.

var KUMPEL_VERSION = 1;
var FLAG_NAMES = ['ultrasonic_fault', 'climate_fault', 'low_battery', 'fire_alarm', 'bin_full', 'config_pending'];
// protocols/hardware.py RESET_CAUSES is the home of these names (tests/protocols/test_codec_js.py)
var RESET_CAUSES = ['unknown', 'power_on', 'hard', 'watchdog', 'deepsleep', 'soft', 'brownout'];
var COMMANDS = { 1: 'reboot', 2: 'status_now', 3: 'measure_now', 4: 'rejoin' };
var REPORT_STATUSES = ['ok', 'unknown_key', 'out_of_range', 'bad_format'];
// [id, name, nbytes, min, max, default]: mirror of protocols/settings.py (a test checks they agree).
var SETTINGS = [
  [1, 'meas_interval_min', 2, 1, 1440, 15],
  [2, 'batch_size', 1, 1, 32, 8],
  [3, 'bin_height_cm', 2, 20, 1000, 120],
  [4, 'full_threshold_pct', 1, 1, 100, 80],
  [5, 'fire_temp_c', 1, 30, 85, 65],
  [6, 'confirmed', 1, 0, 1, 0],
  [7, 'adr', 1, 0, 1, 1],
  [8, 'status_every', 1, 1, 255, 12],
  [9, 'sensors', 1, 0, 7, 3],
  [10, 'data_rate', 1, 0, 5, 0],
  [11, 'hysteresis_pct', 1, 0, 50, 10]
];
var MAX_PAYLOAD = 51;
var DIST_NO_ECHO = 1023, DIST_NA = 1022, TEMP_NA = 2047, HUM_NA = 255, PRES_NA = 65535, BATT_NA = 127;
var FIELD_BITS = [10, 11, 8, 16];
var FIELD_NAMES = ['distance', 'temperature', 'humidity', 'pressure'];
var FIELD_NA = [DIST_NA, TEMP_NA, HUM_NA, PRES_NA];
var FIELD_MAX = [1000, 1250, 200, 8000];
var BATCH_HEAD_BITS = 42;

function CodecError(code, detail) {
  this.code = code;
  this.message = code + ': ' + detail;
}

function fail(code, detail) {
  throw new CodecError(code, detail);
}

function settingById(id) {
  for (var i = 0; i < SETTINGS.length; i++) if (SETTINGS[i][0] === id) return SETTINGS[i];
  return null;
}

function settingByName(name) {
  for (var i = 0; i < SETTINGS.length; i++) if (SETTINGS[i][1] === name) return SETTINGS[i];
  return null;
}

function show(v) {
  try {
    var s = JSON.stringify(v);
    return s === undefined ? String(v) : s;
  } catch (e) {
    return String(v);
  }
}

function has(obj, key) {
  return Object.prototype.hasOwnProperty.call(obj, key);
}

function isObject(v) {
  return v !== null && typeof v === 'object' && !isArray(v);
}

function isArray(v) {
  return Object.prototype.toString.call(v) === '[object Array]';
}

function isNumber(v) {
  return typeof v === 'number';
}

function isInt(v) {
  return typeof v === 'number' && isFinite(v) && Math.floor(v) === v;
}

// ---------------------------------------------------------------- bits (MSB first)

function BitWriter(nbytes) {
  this.buf = [];
  for (var i = 0; i < nbytes; i++) this.buf.push(0);
  this.pos = 0;
}

BitWriter.prototype.write = function (value, nbits) {
  while (nbits > 0) {
    var free = 8 - (this.pos & 7);
    var take = free < nbits ? free : nbits;
    nbits -= take;
    var chunk = (value >> nbits) & ((1 << take) - 1);
    this.buf[this.pos >> 3] |= chunk << (free - take);
    this.pos += take;
  }
};

function BitReader(bytes) {
  this.bytes = bytes;
  this.pos = 0;
  this.end = bytes.length * 8;
}

BitReader.prototype.read = function (nbits) {
  var value = 0;
  while (nbits > 0) {
    var avail = 8 - (this.pos & 7);
    var take = avail < nbits ? avail : nbits;
    value = (value << take) | ((this.bytes[this.pos >> 3] >> (avail - take)) & ((1 << take) - 1));
    this.pos += take;
    nbits -= take;
  }
  return value;
};

function zigzag(d) {
  return d >= 0 ? d * 2 : -d * 2 - 1;
}

function unzigzag(z) {
  return z & 1 ? -((z + 1) >> 1) : z >> 1;
}

function bitWidth(z) {
  var n = 0;
  while (z) {
    z = Math.floor(z / 2);
    n++;
  }
  return n;
}

// ---------------------------------------------------------------- encoder input checks

function get(obj, key, what) {
  if (!isObject(obj)) fail('format', what + ' must be an object, got ' + show(obj));
  if (!has(obj, key)) fail('format', what + " is missing '" + key + "'");
  return obj[key];
}

function intField(obj, key, what, lo, hi) {
  var v = get(obj, key, what);
  if (!isInt(v)) fail('format', what + '.' + key + ' must be an integer, got ' + show(v));
  if (v < lo || v > hi) fail('range', what + '.' + key + ' = ' + v + ' is outside ' + lo + '..' + hi);
  return v;
}

function scaled(v, name, scale, offset, hi) {
  if (!isNumber(v)) fail('format', name + ' must be a number or null, got ' + show(v));
  var x = v * scale + offset;
  if (!(x > -0.5 && x < hi + 0.5)) fail('range', name + ' = ' + v + ' is outside its valid range');
  var raw = Math.floor(x + 0.5);
  if (raw > hi) fail('range', name + ' = ' + v + ' is outside its valid range');
  return raw;
}

function rawDistance(r) {
  var noEcho = has(r, 'no_echo') ? r.no_echo : false;
  if (typeof noEcho !== 'boolean') fail('format', 'no_echo must be true or false, got ' + show(noEcho));
  if (!has(r, 'distance_cm')) fail('format', "reading is missing 'distance_cm' (null when not measured)");
  var d = r.distance_cm;
  if (noEcho) {
    if (d !== null) fail('format', 'no_echo is true but distance_cm is ' + show(d) + ' (must be null)');
    return DIST_NO_ECHO;
  }
  if (d === null) return DIST_NA;
  return scaled(d, 'distance_cm', 1, 0, FIELD_MAX[0]);
}

function rawReading(r, withPressure, where) {
  if (!isObject(r)) fail('format', where + ' must be an object, got ' + show(r));
  var keys = ['temperature_c', 'humidity_pct'];
  for (var i = 0; i < keys.length; i++) {
    if (!has(r, keys[i])) fail('format', where + " is missing '" + keys[i] + "' (null when not measured)");
  }
  var t = r.temperature_c, h = r.humidity_pct;
  var out = [
    rawDistance(r),
    t === null ? TEMP_NA : scaled(t, 'temperature_c', 10, 400, FIELD_MAX[1]),
    h === null ? HUM_NA : scaled(h, 'humidity_pct', 2, 0, FIELD_MAX[2])
  ];
  if (withPressure) {
    var p = r.pressure_hpa;
    out.push(p === null ? PRES_NA : scaled(p, 'pressure_hpa', 10, -3000, FIELD_MAX[3]));
  }
  return out;
}

function rawBattery(mv) {
  if (mv === null) return BATT_NA;
  if (!isNumber(mv) || mv !== mv) fail('format', 'battery_mv must be a number or null, got ' + show(mv));
  if (mv <= 2000) return 0;
  if (mv >= 4520) return 126;
  return Math.floor((mv - 2000) / 20 + 0.5);
}

function rawFlags(flags) {
  if (isInt(flags)) {
    if (flags < 0 || flags > 63) fail('range', 'flags = ' + flags + ' is outside 0..63');
    return flags;
  }
  if (isArray(flags)) {
    var out = 0;
    for (var i = 0; i < flags.length; i++) {
      var bit = FLAG_NAMES.indexOf(flags[i]);
      if (bit < 0) fail('format', 'unknown flag ' + show(flags[i]) + '; known: ' + FLAG_NAMES.join(', '));
      out |= 1 << bit;
    }
    return out;
  }
  fail('format', 'flags must be a bit mask 0..63 or a list of flag names, got ' + show(flags));
}

// ---------------------------------------------------------------- decoder helpers

function flagList(raw) {
  var out = [];
  for (var i = 0; i < 6; i++) if (raw & (1 << i)) out.push(FLAG_NAMES[i]);
  return out;
}

function decodedBattery(raw) {
  return raw === BATT_NA ? null : 2000 + 20 * raw;
}

function checkRaw(i, raw, where) {
  if (raw <= FIELD_MAX[i] || raw === FIELD_NA[i] || (i === 0 && raw === DIST_NO_ECHO)) return;
  fail('range', FIELD_NAMES[i] + ' raw ' + raw + ' is not a valid value' + where);
}

function decodedReading(raw) {
  var d = raw[0];
  var r = {
    distance_cm: d >= DIST_NA ? null : d,
    no_echo: d === DIST_NO_ECHO,
    temperature_c: raw[1] === TEMP_NA ? null : (raw[1] - 400) / 10,
    humidity_pct: raw[2] === HUM_NA ? null : raw[2] / 2
  };
  if (raw.length > 3) r.pressure_hpa = raw[3] === PRES_NA ? null : (raw[3] + 3000) / 10;
  return r;
}

function checkBytes(bytes) {
  if (!isArray(bytes) && !(typeof Uint8Array !== 'undefined' && bytes instanceof Uint8Array)) {
    fail('format', 'frame must be a byte array, got ' + show(bytes));
  }
  for (var i = 0; i < bytes.length; i++) {
    if (!isInt(bytes[i]) || bytes[i] < 0 || bytes[i] > 255) {
      fail('format', 'frame byte ' + i + ' is ' + show(bytes[i]) + ', not 0..255');
    }
  }
  return bytes;
}

function checkVersion(bytes, port) {
  if (!bytes.length) fail('length', 'fPort ' + port + ' frame is empty');
  var v = bytes[0] >> 5;
  if (v !== KUMPEL_VERSION) fail('version', 'fPort ' + port + ' frame has format version ' + v + ', expected 1');
}

function lengthError(port, n, expected) {
  fail('length', 'fPort ' + port + ' frame is ' + n + ' bytes, expected ' + expected);
}

function u16(bytes, i) {
  return (bytes[i] << 8) | bytes[i + 1];
}

function i8(b) {
  return b > 127 ? b - 256 : b;
}

// ---------------------------------------------------------------- fPort 1: measurement

function encodeMeasurement(reading) {
  if (!isObject(reading)) fail('format', 'measurement must be an object, got ' + show(reading));
  var withP = has(reading, 'pressure_hpa');
  var raw = rawReading(reading, withP, 'measurement');
  var batt = rawBattery(get(reading, 'battery_mv', 'measurement'));
  var flags = rawFlags(get(reading, 'flags', 'measurement'));
  var w = new BitWriter(withP ? 8 : 6);
  w.write(KUMPEL_VERSION, 3);
  w.write(withP ? 1 : 0, 1);
  w.write(raw[0], 10);
  w.write(raw[1], 11);
  w.write(raw[2], 8);
  w.write(batt, 7);
  w.write(flags, 6);
  w.write(0, 2);
  if (withP) w.write(raw[3], 16);
  return w.buf;
}

function decodeMeasurement(bytes) {
  checkVersion(bytes, 1);
  var withP = (bytes[0] >> 4) & 1;
  if (bytes.length !== (withP ? 8 : 6)) {
    lengthError(1, bytes.length, withP ? '8 (pressure flag set)' : '6 (pressure flag clear)');
  }
  var r = new BitReader(bytes);
  r.read(4);
  var raw = [r.read(10), r.read(11), r.read(8)];
  var batt = r.read(7);
  var flags = r.read(6);
  if (r.read(2)) fail('reserved', 'fPort 1 reserved bits (byte 5, bits 1-0) are not 0');
  if (withP) raw.push(r.read(16));
  for (var i = 0; i < raw.length; i++) checkRaw(i, raw[i], '');
  var out = decodedReading(raw);
  out.type = 'measurement';
  out.battery_mv = decodedBattery(batt);
  out.flags = flagList(flags);
  return out;
}

// ---------------------------------------------------------------- fPort 2: batch

function encodeBatch(batch) {
  var readings = get(batch, 'readings', 'batch');
  if (!isArray(readings) || !readings.length) fail('format', 'batch.readings must be a non-empty list of readings');
  var n = readings.length;
  if (n > 32) fail('range', 'batch has ' + n + ' readings, at most 32 fit in a frame');
  var interval = intField(batch, 'interval_min', 'batch', 1, 255);
  var batt = rawBattery(get(batch, 'battery_mv', 'batch'));
  var flags = rawFlags(get(batch, 'flags', 'batch'));
  var withP = isObject(readings[0]) && has(readings[0], 'pressure_hpa');
  var nf = withP ? 4 : 3;
  var raws = [];
  var i, f;
  for (i = 0; i < n; i++) {
    var where = 'batch.readings[' + i + ']';
    var r = readings[i];
    if (isObject(r) && has(r, 'pressure_hpa') !== withP) {
      fail('format', where + ": either every reading has 'pressure_hpa' or none does");
    }
    raws.push(rawReading(r, withP, where));
    if (has(r, 'flags')) flags |= rawFlags(r.flags);
  }
  var widths = [0, 0, 0, 0];
  for (f = 0; f < nf; f++) {
    var top = 0;
    for (i = 1; i < n; i++) top = Math.max(top, zigzag(raws[i][f] - raws[i - 1][f]));
    var wd = bitWidth(top);
    if (wd > 15) {
      fail('range', 'batch ' + FIELD_NAMES[f] + ' changes too much between readings to delta-code (needs ' + wd +
        ' bits, max 15): send those readings in separate frames');
    }
    widths[f] = wd;
  }
  var nbits = BATCH_HEAD_BITS + (withP ? 4 : 0);
  for (f = 0; f < nf; f++) nbits += FIELD_BITS[f] + widths[f] * (n - 1);
  var w = new BitWriter((nbits + 7) >> 3);
  w.write(KUMPEL_VERSION, 3);
  w.write(withP ? 1 : 0, 1);
  w.write(n - 1, 5);
  w.write(interval, 8);
  w.write(batt, 7);
  w.write(flags, 6);
  for (f = 0; f < nf; f++) w.write(widths[f], 4);
  for (f = 0; f < nf; f++) w.write(raws[0][f], FIELD_BITS[f]);
  for (i = 1; i < n; i++) {
    for (f = 0; f < nf; f++) if (widths[f]) w.write(zigzag(raws[i][f] - raws[i - 1][f]), widths[f]);
  }
  return w.buf;
}

function decodeBatch(bytes) {
  checkVersion(bytes, 2);
  var withP = (bytes[0] >> 4) & 1;
  var nf = withP ? 4 : 3;
  var head = BATCH_HEAD_BITS + (withP ? 4 : 0);
  var r = new BitReader(bytes);
  if (r.end < head) fail('length', 'fPort 2 frame is ' + bytes.length + ' bytes, cut off inside the header');
  r.read(4);
  var n = r.read(5) + 1;
  var interval = r.read(8);
  if (interval === 0) fail('range', 'fPort 2 interval is 0 minutes (1..255)');
  var batt = r.read(7);
  var flags = r.read(6);
  var widths = [];
  var f, i;
  for (f = 0; f < nf; f++) widths.push(r.read(4));
  var nbits = head;
  for (f = 0; f < nf; f++) nbits += FIELD_BITS[f] + widths[f] * (n - 1);
  var expected = (nbits + 7) >> 3;
  if (bytes.length !== expected) {
    lengthError(2, bytes.length, expected + ' for ' + n + ' readings with these widths');
  }
  var raw = [];
  for (f = 0; f < nf; f++) raw.push(r.read(FIELD_BITS[f]));
  for (f = 0; f < nf; f++) checkRaw(f, raw[f], ' in reading 0');
  var readings = [];
  var age = (n - 1) * interval;
  var item = decodedReading(raw);
  item.age_min = age;
  readings.push(item);
  for (i = 1; i < n; i++) {
    raw = raw.slice();
    for (f = 0; f < nf; f++) {
      if (!widths[f]) continue;
      var v = raw[f] + unzigzag(r.read(widths[f]));
      var top = (1 << FIELD_BITS[f]) - 1;
      if (v < 0 || v > top) {
        fail('range', FIELD_NAMES[f] + ' in reading ' + i + ' decodes to raw ' + v + ', outside 0..' + top);
      }
      checkRaw(f, v, ' in reading ' + i);
      raw[f] = v;
    }
    age -= interval;
    item = decodedReading(raw);
    item.age_min = age;
    readings.push(item);
  }
  if (r.read(r.end - r.pos)) fail('reserved', 'fPort 2 padding bits after the last reading are not 0');
  return {
    type: 'batch', interval_min: interval, battery_mv: decodedBattery(batt), flags: flagList(flags),
    readings: readings
  };
}

// ---------------------------------------------------------------- fPort 3: status

function saturate(obj, key, top) {
  var v = get(obj, key, 'status');
  if (!isInt(v)) fail('format', 'status.' + key + ' must be an integer, got ' + show(v));
  if (v < 0) fail('range', 'status.' + key + ' = ' + v + ' is negative');
  return v > top ? top : v;
}

function signal(obj, key) {
  var v = get(obj, key, 'status');
  if (v === null) return 128;
  if (!isNumber(v) || v !== v) fail('format', 'status.' + key + ' must be a number or null, got ' + show(v));
  v = v < -127 ? -127 : v > 127 ? 127 : Math.floor(v + 127.5) - 127;
  return v & 0xff;
}

function fwVersion(text) {
  if (typeof text !== 'string' || !/^[0-9]{1,3}\.[0-9]{1,3}\.[0-9]{1,3}$/.test(text)) {
    fail('format', 'status.fw_version ' + show(text) + " is not 'major.minor.patch'");
  }
  var p = text.split('.');
  var major = parseInt(p[0], 10), minor = parseInt(p[1], 10), patch = parseInt(p[2], 10);
  if (major > 15 || minor > 63 || patch > 63) {
    fail('range', 'status.fw_version ' + text + ': major 0..15, minor and patch 0..63');
  }
  return (major << 12) | (minor << 6) | patch;
}

function encodeStatus(status) {
  var cause = get(status, 'reset_cause', 'status');
  if (RESET_CAUSES.indexOf(cause) >= 0) cause = RESET_CAUSES.indexOf(cause);
  else if (!(isInt(cause) && cause >= 0 && cause < RESET_CAUSES.length)) {
    fail('format', 'status.reset_cause ' + show(cause) + '; known: ' + RESET_CAUSES.join(', '));
  }
  var fw = fwVersion(get(status, 'fw_version', 'status'));
  var cfg = intField(status, 'config_version', 'status', 0, 65535);
  var wake = get(status, 'wake_count', 'status');
  if (!isInt(wake) || wake < 0) fail('format', 'status.wake_count must be a non-negative integer, got ' + show(wake));
  wake = wake % 16777216;
  return [
    (KUMPEL_VERSION << 5) | (cause << 2), fw >> 8, fw & 0xff, cfg >> 8, cfg & 0xff,
    Math.floor(wake / 65536), (wake >> 8) & 0xff, wake & 0xff,
    saturate(status, 'sensor_errors', 255), saturate(status, 'radio_errors', 255),
    saturate(status, 'watchdog_resets', 255), rawBattery(get(status, 'battery_mv', 'status')),
    signal(status, 'rssi'), signal(status, 'snr'), saturate(status, 'join_count', 255)
  ];
}

function decodeStatus(bytes) {
  checkVersion(bytes, 3);
  if (bytes.length !== 15) lengthError(3, bytes.length, '15');
  if (bytes[0] & 3) fail('reserved', 'fPort 3 reserved bits (byte 0, bits 1-0) are not 0');
  if (bytes[11] & 0x80) fail('reserved', 'fPort 3 reserved bit (byte 11, bit 7) is not 0');
  var cause = (bytes[0] >> 2) & 7;
  if (cause >= RESET_CAUSES.length) fail('range', 'fPort 3 reset cause ' + cause + ' is unknown (0..6)');
  var fw = u16(bytes, 1);
  var rssi = i8(bytes[12]), snr = i8(bytes[13]);
  return {
    type: 'status',
    fw_version: (fw >> 12) + '.' + ((fw >> 6) & 63) + '.' + (fw & 63),
    config_version: u16(bytes, 3),
    reset_cause: RESET_CAUSES[cause],
    wake_count: bytes[5] * 65536 + (bytes[6] << 8) + bytes[7],
    sensor_errors: bytes[8],
    radio_errors: bytes[9],
    watchdog_resets: bytes[10],
    battery_mv: decodedBattery(bytes[11]),
    rssi: rssi === -128 ? null : rssi,
    snr: snr === -128 ? null : snr,
    join_count: bytes[14]
  };
}

// ---------------------------------------------------------------- fPort 4: config report

function encodeConfigReport(configVersion, entries) {
  if (!isInt(configVersion)) fail('format', 'config_version must be an integer, got ' + show(configVersion));
  if (configVersion < 0 || configVersion > 65535) {
    fail('range', 'config_version ' + configVersion + ' is outside 0..65535');
  }
  if (!isArray(entries)) fail('format', 'config report entries must be a list of (setting_id, status)');
  if (3 + entries.length > MAX_PAYLOAD) {
    fail('range', 'config report with ' + entries.length + ' entries exceeds 51 bytes');
  }
  var out = [KUMPEL_VERSION << 5, configVersion >> 8, configVersion & 0xff];
  for (var i = 0; i < entries.length; i++) {
    var e = entries[i], id, status;
    if (isObject(e)) {
      id = e.id;
      status = e.status;
    } else if (isArray(e) && e.length === 2) {
      id = e[0];
      status = e[1];
    } else {
      fail('format', 'config report entry ' + i + ' must be (setting_id, status)');
    }
    if (!isInt(id)) fail('format', 'config report entry ' + i + ': setting id ' + show(id) + ' is not a number');
    if (id < 0 || id > 31) fail('range', 'config report entry ' + i + ': setting id ' + show(id) + ' is not 0..31');
    var code = REPORT_STATUSES.indexOf(status);
    if (code < 0) {
      fail('format', 'config report entry ' + i + ': status ' + show(status) + '; known: ' + REPORT_STATUSES.join(', '));
    }
    out.push((code << 6) | id);
  }
  return out;
}

function decodeConfigReport(bytes) {
  checkVersion(bytes, 4);
  if (bytes.length < 3 || bytes.length > MAX_PAYLOAD) lengthError(4, bytes.length, '3 to 51'); // SPEC: <= 48 entries
  if (bytes[0] & 0x1f) fail('reserved', 'fPort 4 reserved bits (byte 0, bits 4-0) are not 0');
  var entries = [];
  for (var i = 3; i < bytes.length; i++) {
    var b = bytes[i];
    if (b & 0x20) fail('reserved', 'fPort 4 reserved bit (byte ' + i + ', bit 5) is not 0');
    var s = settingById(b & 0x1f);
    entries.push({ id: b & 0x1f, name: s ? s[1] : null, status: REPORT_STATUSES[b >> 6] });
  }
  return { type: 'config_report', config_version: u16(bytes, 1), entries: entries };
}

// ---------------------------------------------------------------- fPort 10: config, fPort 11: command

function encodeConfig(config) {
  var version = intField(config, 'config_version', 'config', 1, 65535);
  var values = get(config, 'settings', 'config');
  if (!isObject(values)) fail('format', 'config.settings must be an object name -> value');
  var chosen = [];
  for (var name in values) {
    if (!has(values, name)) continue;
    var s = settingByName(name);
    if (!s) {
      var known = [];
      for (var k = 0; k < SETTINGS.length; k++) known.push(SETTINGS[k][1]);
      fail('key', 'unknown setting ' + show(name) + '; known: ' + known.join(', '));
    }
    var v = values[name];
    if (typeof v === 'boolean') v = v ? 1 : 0;
    if (!isInt(v)) fail('format', 'setting ' + name + ' must be an integer, got ' + show(v));
    if (v < s[3] || v > s[4]) fail('range', 'setting ' + name + ' = ' + v + ' is outside ' + s[3] + '..' + s[4]);
    chosen.push([s[0], s[2], v]);
  }
  chosen.sort(function (a, b) { return a[0] - b[0]; });
  var out = [KUMPEL_VERSION << 5, version >> 8, version & 0xff];
  for (var i = 0; i < chosen.length; i++) {
    out.push((chosen[i][1] << 5) | chosen[i][0]);
    for (var j = chosen[i][1] - 1; j >= 0; j--) out.push((chosen[i][2] >> (8 * j)) & 0xff);
  }
  if (out.length > MAX_PAYLOAD) fail('length', 'config frame is ' + out.length + ' bytes, over 51');
  return out;
}

function configEntries(bytes) {
  checkVersion(bytes, 10);
  if (bytes.length < 3) lengthError(10, bytes.length, 'at least 3');
  if (bytes[0] & 0x1f) fail('reserved', 'fPort 10 reserved bits (byte 0, bits 4-0) are not 0');
  if (bytes.length > MAX_PAYLOAD) lengthError(10, bytes.length, 'at most 51');
  if (u16(bytes, 1) === 0) fail('range', 'fPort 10 config version 0 is invalid (1..65535)');
  var out = [], seen = {}, i = 3;
  while (i < bytes.length) {
    var id = bytes[i] & 0x1f, nbytes = bytes[i] >> 5;
    if (i + 1 + nbytes > bytes.length) {
      fail('length', 'fPort 10 entry at byte ' + i + ' (setting id ' + id + ', ' + nbytes +
        ' bytes) is cut off by the end of the frame');
    }
    if (seen[id]) fail('key', 'fPort 10 setting id ' + id + ' appears twice (byte ' + i + ')');
    seen[id] = true;
    out.push([id, nbytes, i + 1]);
    i += 1 + nbytes;
  }
  return out;
}

function decodeConfig(bytes) {
  var settings = {};
  var entries = configEntries(bytes);
  for (var k = 0; k < entries.length; k++) {
    var id = entries[k][0], nbytes = entries[k][1], offset = entries[k][2];
    var s = settingById(id);
    if (!s) fail('key', 'fPort 10 setting id ' + id + ' (byte ' + (offset - 1) + ') is unknown');
    if (nbytes !== s[2]) {
      fail('length', 'fPort 10 setting ' + s[1] + ' has ' + nbytes + ' value bytes, expected ' + s[2]);
    }
    var v = 0;
    for (var j = 0; j < nbytes; j++) v = v * 256 + bytes[offset + j];
    if (v < s[3] || v > s[4]) fail('range', 'fPort 10 setting ' + s[1] + ' = ' + v + ' is outside ' + s[3] + '..' + s[4]);
    settings[s[1]] = v;
  }
  return { type: 'config', config_version: u16(bytes, 1), settings: settings };
}

function encodeCommand(command) {
  for (var code in COMMANDS) {
    if (has(COMMANDS, code) && COMMANDS[code] === command) return [KUMPEL_VERSION << 5, parseInt(code, 10)];
  }
  fail('format', 'unknown command ' + show(command) + '; known: reboot, status_now, measure_now, rejoin');
}

function decodeCommand(bytes) {
  checkVersion(bytes, 11);
  if (bytes.length !== 2) lengthError(11, bytes.length, '2');
  if (bytes[0] & 0x1f) fail('reserved', 'fPort 11 reserved bits (byte 0, bits 4-0) are not 0');
  if (!has(COMMANDS, bytes[1])) fail('range', 'fPort 11 command ' + bytes[1] + ' is unknown (1..4)');
  return { type: 'command', command: COMMANDS[bytes[1]] };
}

// ---------------------------------------------------------------- fill level and dispatch

function fillPercent(distanceCm, binHeightCm) {
  if (!isNumber(distanceCm) || !isNumber(binHeightCm) || !(binHeightCm > 0)) return null;
  var x = 100 * (binHeightCm - distanceCm) / binHeightCm + 0.5;
  if (x !== x) return null;
  if (x <= 0) return 0;
  if (x >= 100) return 100;
  return Math.floor(x);
}

function checkPort(fPort) {
  if (!isInt(fPort)) fail('port', 'fPort must be an integer, got ' + show(fPort));
}

function decodeUplinkData(fPort, bytes) {
  checkPort(fPort);
  if (fPort < 1 || fPort > 4) {
    fail('port', 'fPort ' + fPort + ' is not an uplink port (1 measurement, 2 batch, 3 status, 4 config_report)');
  }
  checkBytes(bytes);
  if (fPort === 1) return decodeMeasurement(bytes);
  if (fPort === 2) return decodeBatch(bytes);
  if (fPort === 3) return decodeStatus(bytes);
  return decodeConfigReport(bytes);
}

function decodeDownlinkData(fPort, bytes) {
  checkPort(fPort);
  if (fPort !== 10 && fPort !== 11) fail('port', 'fPort ' + fPort + ' is not a downlink port (10 config, 11 command)');
  checkBytes(bytes);
  if (fPort === 10) return decodeConfig(bytes);
  return decodeCommand(bytes);
}

function errorResult(e) {
  if (e instanceof CodecError) return { errors: [e.message] };
  return { errors: ['internal: ' + String(e)] };
}

// The device variable bin_height_cm (ChirpStack / TTS): a whole number of cm inside the setting's range,
// or no fill_pct at all: "12O" or "120cm" read leniently would give a silently wrong fill.
function binHeightFrom(input, warnings) {
  var vars = input && input.variables;
  if (!vars || vars.bin_height_cm === undefined || vars.bin_height_cm === null) return null;
  var raw = vars.bin_height_cm;
  var h = typeof raw === 'number' ? raw : typeof raw === 'string' && /^[0-9]+$/.test(raw) ? parseInt(raw, 10) : NaN;
  var s = settingByName('bin_height_cm');
  if (!isInt(h) || h < s[3] || h > s[4]) {
    warnings.push('variables.bin_height_cm ' + show(raw) + ' is not a whole number of cm in ' + s[3] + '..' + s[4] +
      ': fill_pct left out');
    return null;
  }
  return h;
}

// TS013: {bytes, fPort, recvTime, variables?} -> {data} | {errors}
function decodeUplink(input) {
  try {
    var data = decodeUplinkData(input.fPort, input.bytes);
    var warnings = [];
    var height = binHeightFrom(input, warnings);
    if (height !== null) {
      var readings = data.type === 'batch' ? data.readings : data.type === 'measurement' ? [data] : [];
      for (var i = 0; i < readings.length; i++) readings[i].fill_pct = fillPercent(readings[i].distance_cm, height);
    }
    return warnings.length ? { data: data, warnings: warnings } : { data: data };
  } catch (e) {
    return errorResult(e);
  }
}

// TS013: {data: {type: 'config', config_version, settings} | {type: 'command', command}} -> {bytes, fPort}
function encodeDownlink(input) {
  try {
    var data = input.data;
    if (!isObject(data)) fail('format', 'downlink data must be an object, got ' + show(data));
    var type = data.type || (has(data, 'command') ? 'command' : 'config');
    if (type === 'command') return { bytes: encodeCommand(data.command), fPort: 11 };
    if (type === 'config') return { bytes: encodeConfig(data), fPort: 10 };
    fail('format', 'downlink type ' + show(type) + " is not 'config' or 'command'");
  } catch (e) {
    return errorResult(e);
  }
}

// TS013: {bytes, fPort} -> {data} | {errors}
function decodeDownlink(input) {
  try {
    return { data: decodeDownlinkData(input.fPort, input.bytes) };
  } catch (e) {
    return errorResult(e);
  }
}

if (typeof module !== 'undefined' && module.exports) {
  module.exports = {
    decodeUplink: decodeUplink,
    encodeDownlink: encodeDownlink,
    decodeDownlink: decodeDownlink,
    encodeMeasurement: encodeMeasurement,
    encodeBatch: encodeBatch,
    encodeStatus: encodeStatus,
    encodeConfigReport: encodeConfigReport,
    encodeConfig: encodeConfig,
    encodeCommand: encodeCommand,
    fillPercent: fillPercent,
    CodecError: CodecError,
    SETTINGS: SETTINGS,
    RESET_CAUSES: RESET_CAUSES
  };
}
