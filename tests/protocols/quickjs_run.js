// Run the codec and js_check.js inside a real QuickJS (quickjs-emscripten: the engine ChirpStack v4 uses),
// loaded as ChirpStack loads a codec: one plain script, no module system.
//   node quickjs_run.js <vectors dir>   -> JSON {checked, failures, chirpstack}
'use strict';
const fs = require('fs');
const path = require('path');
const { getQuickJS } = require('quickjs-emscripten');

async function main() {
  const dir = process.argv[2];
  const root = path.join(__dirname, '..', '..');
  const codec = fs.readFileSync(path.join(root, 'protocols', 'kumpel-codec.js'), 'utf8');
  const check = fs.readFileSync(path.join(__dirname, 'js_check.js'), 'utf8');
  const docs = fs.readdirSync(dir).filter((f) => f.endsWith('.json')).sort()
    .map((f) => JSON.parse(fs.readFileSync(path.join(dir, f), 'utf8')));
  const script = [
    codec,
    check,
    'var DOCS = ' + JSON.stringify(docs) + ';',
    'var API = {decodeUplink: decodeUplink, encodeDownlink: encodeDownlink, decodeDownlink: decodeDownlink,',
    '  encodeMeasurement: encodeMeasurement, encodeBatch: encodeBatch, encodeStatus: encodeStatus,',
    '  encodeConfigReport: encodeConfigReport};',
    'var result = checkVectors(API, DOCS);',
    // ChirpStack passes device variables as strings; the codec adds fill_pct from bin_height_cm.
    'result.chirpstack = decodeUplink({bytes: [0x21, 0xed, 0x33, 0xb7, 0xd5, 0x40], fPort: 1,',
    '  recvTime: new Date(), variables: {bin_height_cm: "200"}});',
    'JSON.stringify(result);',
  ].join('\n');
  const QuickJS = await getQuickJS();
  const out = QuickJS.evalCode(script, { shouldInterrupt: undefined, memoryLimitBytes: 64 * 1024 * 1024 });
  process.stdout.write(out);
}

main().catch((e) => {
  process.stderr.write(String(e && e.stack ? e.stack : e) + '\n');
  process.exit(1);
});
