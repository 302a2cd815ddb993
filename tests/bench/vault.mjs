// JS side of `cargo xtask bench vault`: the same bytes through the npm package's vault
// preparation (XChaCha20-Poly1305 STREAM + Reed–Solomon k-of-n, in wasm) and through
// `shamir-secret-sharing` (Shamir over GF(2^8), the well-known JS way to split a secret
// k-of-n), in one run. Prints one JSON object.
//
// Shamir splits byte by byte with a fresh random polynomial each (about 0.5 MB/s), so it
// runs on the first --shamir-mb MiB of the same bytes (default 4) and reports MB/s.
//
// usage: node vault.mjs --package DIR [--mb 64] [--shamir-mb 4] [--k 2] [--n 3]

import { randomFillSync } from 'node:crypto';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { split } from 'shamir-secret-sharing';

const arg = (name, fallback) => {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : fallback;
};
const packageDir = arg('--package');
const mb = Number(arg('--mb', '64'));
const k = Number(arg('--k', '2'));
const n = Number(arg('--n', '3'));
const shamirMb = Math.min(mb, Number(arg('--shamir-mb', '4')));
if (!packageDir) throw new Error('usage: node vault.mjs --package DIR [--mb 64] [--k 2] [--n 3]');

const { init, Wallet, vaultPrepare } = await import(pathToFileURL(resolve(packageDir, 'vault-node.js')).href);
await init();
const bytes = new Uint8Array(mb << 20);
for (let at = 0; at < bytes.length; at += 65536) randomFillSync(bytes, at, Math.min(65536, bytes.length - at));
const wallet = Wallet.generate();

const best = async (runs, f) => {
  let t = Infinity;
  for (let i = 0; i < runs; i++) {
    const started = performance.now();
    await f();
    t = Math.min(t, performance.now() - started);
  }
  return t / 1000;
};

let prepared;
const wasmS = await best(3, () => {
  prepared = vaultPrepare(wallet, bytes, k, n);
});
let shares;
const shamirS = await best(1, async () => {
  shares = await split(bytes.subarray(0, shamirMb << 20), n, k);
});
if (prepared.stripes * n !== prepared.shards || shares.length !== n) throw new Error('unexpected split');
console.log(JSON.stringify({ wasm_mb_s: mb / wasmS, shamir_js_mb_s: shamirMb / shamirS, mb, shamir_mb: shamirMb, k, n }));
