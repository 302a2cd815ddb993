// JS side of `cargo xtask bench vault`: the same bytes through the npm package's vault
// preparation (XChaCha20-Poly1305 STREAM + Reed–Solomon k-of-n, in wasm: its simd128
// build and its baseline) and through
// `shamir-secret-sharing` (Shamir over GF(2^8), the well-known JS way to split a secret
// k-of-n), in one run. Prints one JSON object.
//
// Shamir splits byte by byte with a fresh random polynomial each (about 0.5 MB/s), so it
// runs on the first --shamir-mb MiB of the same bytes (default 4) and reports MB/s.
//
// usage: node vault.mjs --package DIR [--mb 64] [--shamir-mb 4] [--k 2] [--n 3]

import { randomFillSync } from 'node:crypto';
import { readFileSync } from 'node:fs';
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

// Both builds of the vault entry, each in its own instance of the JS glue: the simd128
// one (what `init()` loads on this Node) and the baseline for engines without SIMD.
const dist = resolve(packageDir, 'dist/vault');
const load = async (file) => {
  const glue = await import(`${pathToFileURL(resolve(dist, 'vigil_wallet.js')).href}?build=${file}`);
  await glue.default({ module_or_path: readFileSync(resolve(dist, file)) });
  return glue;
};
const { hasSimd } = await import(pathToFileURL(resolve(packageDir, 'simd.js')).href);
if (!hasSimd()) throw new Error('this Node has no wasm SIMD: the simd128 build cannot be measured');
const builds = { simd: await load('vigil_wallet_simd_bg.wasm'), baseline: await load('vigil_wallet_bg.wasm') };
const bytes = new Uint8Array(mb << 20);
for (let at = 0; at < bytes.length; at += 65536) randomFillSync(bytes, at, Math.min(65536, bytes.length - at));

const best = async (runs, f) => {
  let t = Infinity;
  for (let i = 0; i < runs; i++) {
    const started = performance.now();
    await f();
    t = Math.min(t, performance.now() - started);
  }
  return t / 1000;
};

const rates = {};
for (const [name, { Wallet, vaultPrepare }] of Object.entries(builds)) {
  const wallet = Wallet.generate();
  // Warm: the engine compiles wasm in tiers (a baseline compiler first, the optimising
  // one in the background), and the module's memory grows on first use.
  for (let i = 0; i < 4; i++) vaultPrepare(wallet, bytes.subarray(0, 8 << 20), k, n);
  let prepared;
  rates[name] = mb / (await best(3, () => {
    prepared = vaultPrepare(wallet, bytes, k, n);
  }));
  if (prepared.stripes * n !== prepared.shards) throw new Error(`${name}: unexpected split`);
}
let shares;
const shamirS = await best(1, async () => {
  shares = await split(bytes.subarray(0, shamirMb << 20), n, k);
});
if (shares.length !== n) throw new Error('unexpected split');
console.log(JSON.stringify({ wasm_mb_s: rates.simd, wasm_baseline_mb_s: rates.baseline, shamir_js_mb_s: shamirMb / shamirS, mb, shamir_mb: shamirMb, k, n }));
