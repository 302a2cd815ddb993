// JS side of `cargo xtask bench tables`: a node's answers fetched once (one row, a page
// of 100 rows, an account), verified over and over with Vigil's npm package in
// WebAssembly: the row with its proofs and its writer's signature, the page with its
// range proof and every row's signature, and — the anchor, in the same run — the
// account with its proof — in turns, the median of each. Nothing is cached between calls
// but the light client's trusted set. Prints one JSON object.
//
// usage: node tables.mjs --package DIR --fixture FILE [--min-ms MS]
// The fixture (written by tests/e2e/benches/tables.rs):
// { genesisJson, table, rowKey, row, scanRequest, page, address, account }.

import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';

function arg(name, fallback) {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : fallback;
}

const packageDir = arg('--package');
const fixturePath = arg('--fixture');
const minMs = Number(arg('--min-ms', '3000'));
if (!packageDir || !fixturePath) {
  console.error('usage: node tables.mjs --package DIR --fixture FILE [--min-ms MS]');
  process.exit(2);
}
const f = JSON.parse(readFileSync(fixturePath, 'utf8'));

// Microseconds per call of each of `fns`, measured in turns (a slice of each, round after
// round, for minMs in all per function) so that the machine's drift weighs on all alike;
// the median slice of each.
function perCallUs(fns, rounds = 15) {
  for (const fn of fns) fn();
  const slices = fns.map(() => []);
  const sliceMs = minMs / rounds;
  for (let r = 0; r < rounds; r++) {
    fns.forEach((fn, i) => {
      const start = performance.now();
      let calls = 0;
      while (performance.now() - start < sliceMs) {
        for (let k = 0; k < 4; k++) fn();
        calls += 4;
      }
      slices[i].push(((performance.now() - start) * 1000) / calls);
    });
  }
  return slices.map((s) => s.sort((a, b) => a - b)[Math.floor(s.length / 2)]);
}

const { init, VigilClient } = await import(pathToFileURL(resolve(packageDir, 'node.js')).href);
await init();
const client = new VigilClient({ gateways: ['https://localhost:1'], genesisJson: f.genesisJson });
const row = JSON.stringify(f.row);
const page = JSON.stringify(f.page);
const request = JSON.stringify(f.scanRequest);
const a = f.account;

const checkedRow = client.verifyRowProof(f.table, f.rowKey, row);
if (!checkedRow.row) throw new Error('the fixture row is absent');
const checkedPage = client.verifyScanProof(f.table, request, page);
if (checkedPage.rows.length !== 100 || !checkedPage.complete) throw new Error(`a page of ${checkedPage.rows.length}`);

const [rowUs, accountUs, rangeUs] = perCallUs([
  () => client.verifyRowProof(f.table, f.rowKey, row),
  () => client.verifyAccountProof(f.address, a.value_bcs, a.proof_bcs, a.certified_header_bcs),
  () => client.verifyScanProof(f.table, request, page),
]);

console.log(JSON.stringify({
  row_verify_us: rowUs,
  account_verify_us: accountUs,
  range100_verify_ms: rangeUs / 1000,
  method: checkedPage.method,
}));
