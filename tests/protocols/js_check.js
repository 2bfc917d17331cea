// Golden vectors and differential inputs through protocols/kumpel-codec.js. Plain ES5.1, so the same file
// runs under Node.js (require) and inside QuickJS (concatenated after the codec, as ChirpStack loads it).
//   node js_check.js vectors <vectors dir>        -> JSON {checked, failures}
//   node js_check.js decode <cases.json>          -> JSON [[code | null, data | null], ...] per [fport, hex]

function hexOf(bytes) {
  var out = '';
  for (var i = 0; i < bytes.length; i++) out += (bytes[i] < 16 ? '0' : '') + bytes[i].toString(16);
  return out;
}

function bytesOf(hex) {
  var out = [];
  for (var i = 0; i < hex.length; i += 2) out.push(parseInt(hex.substr(i, 2), 16));
  return out;
}

function sameValue(a, b) {
  if (a === b) return true;
  if (a === null || b === null || typeof a !== 'object' || typeof b !== 'object') return false;
  var ka = Object.keys(a), kb = Object.keys(b);
  if (ka.length !== kb.length) return false;
  for (var i = 0; i < ka.length; i++) {
    if (!Object.prototype.hasOwnProperty.call(b, ka[i]) || !sameValue(a[ka[i]], b[ka[i]])) return false;
  }
  return true;
}

function errorCode(result) {
  return result.errors && result.errors.length ? String(result.errors[0]).split(':')[0] : null;
}

function encodeUp(codec, frame, obj) {
  if (frame === 'measurement') return codec.encodeMeasurement(obj);
  if (frame === 'batch') return codec.encodeBatch(obj);
  if (frame === 'status') return codec.encodeStatus(obj);
  return codec.encodeConfigReport(obj.config_version, obj.entries);
}

function downlinkData(frame, obj) {
  if (frame === 'command') return { type: 'command', command: obj };
  return { type: 'config', config_version: obj.config_version, settings: obj.settings };
}

// Throws for uplink frames (the CodecError), returns {errors} for downlinks (TS013 shape).
function encodeAny(codec, doc, obj) {
  if (doc.direction === 'up') return { bytes: encodeUp(codec, doc.frame, obj), fPort: doc.fport };
  return codec.encodeDownlink({ data: downlinkData(doc.frame, obj) });
}

function decodeAny(codec, doc, bytes) {
  if (doc.direction === 'up') return codec.decodeUplink({ fPort: doc.fport, bytes: bytes });
  return codec.decodeDownlink({ fPort: doc.fport, bytes: bytes });
}

function checkVectors(codec, docs) {
  var failures = [], checked = 0;
  function fail(doc, kind, v, why) {
    failures.push(doc.frame + ' ' + kind + ' ' + v.name + ': ' + why);
  }
  for (var d = 0; d < docs.length; d++) {
    var doc = docs[d], i, v, r;
    for (i = 0; i < doc.valid.length; i++) {
      v = doc.valid[i];
      checked++;
      try {
        r = encodeAny(codec, doc, v.object);
        if (r.errors) fail(doc, 'valid', v, 'encode errors ' + r.errors.join('; '));
        else if (hexOf(r.bytes) !== v.hex) fail(doc, 'valid', v, 'encoded ' + hexOf(r.bytes) + ', expected ' + v.hex);
        else if (r.fPort !== doc.fport) fail(doc, 'valid', v, 'fPort ' + r.fPort);
        r = decodeAny(codec, doc, bytesOf(v.hex));
        if (r.errors) fail(doc, 'valid', v, 'decode errors ' + r.errors.join('; '));
        else if (!sameValue(r.data, v.decoded)) fail(doc, 'valid', v, 'decoded ' + JSON.stringify(r.data));
      } catch (e) {
        fail(doc, 'valid', v, 'threw ' + (e.message || e));
      }
    }
    for (i = 0; i < doc.malformed.length; i++) {
      v = doc.malformed[i];
      checked++;
      r = decodeAny(codec, doc, bytesOf(v.hex));
      if (errorCode(r) !== v.error) fail(doc, 'malformed', v, 'got ' + JSON.stringify(r) + ', expected ' + v.error);
    }
    for (i = 0; i < doc.bad_input.length; i++) {
      v = doc.bad_input[i];
      checked++;
      var code;
      try {
        r = encodeAny(codec, doc, v.object);
        code = errorCode(r);
      } catch (e) {
        code = e.code || 'threw ' + e;
      }
      if (code !== v.error) fail(doc, 'bad_input', v, 'got ' + code + ', expected ' + v.error);
    }
  }
  return { checked: checked, failures: failures };
}

// Decode [fport, hex] pairs the way a network server would; [error code, null] or [null, data].
function decodeCases(codec, cases) {
  var out = [];
  for (var i = 0; i < cases.length; i++) {
    var port = cases[i][0], bytes = bytesOf(cases[i][1]);
    var r = port >= 10 ? codec.decodeDownlink({ fPort: port, bytes: bytes }) : codec.decodeUplink({ fPort: port, bytes: bytes });
    out.push(r.errors ? [errorCode(r), null] : [null, r.data]);
  }
  return out;
}

if (typeof module !== 'undefined' && module.exports && typeof require === 'function' && require.main === module) {
  var fs = require('fs'), path = require('path');
  var codec = require(path.join(__dirname, '..', '..', 'protocols', 'kumpel-codec.js'));
  var mode = process.argv[2], arg = process.argv[3];
  if (mode === 'vectors') {
    var docs = fs.readdirSync(arg).filter(function (f) { return /\.json$/.test(f); }).sort().map(function (f) {
      return JSON.parse(fs.readFileSync(path.join(arg, f), 'utf8'));
    });
    process.stdout.write(JSON.stringify(checkVectors(codec, docs)));
  } else if (mode === 'decode') {
    process.stdout.write(JSON.stringify(decodeCases(codec, JSON.parse(fs.readFileSync(arg, 'utf8')))));
  } else {
    process.stderr.write('usage: node js_check.js vectors <dir> | decode <cases.json>\n');
    process.exit(2);
  }
}
