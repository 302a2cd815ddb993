// JS side of `cargo xtask bench protocol` and `cargo xtask bench wallet`. Verifies the
// quorum certificates written by protocol/benches/qc.rs: with Vigil's wasm (batch
// verification; vigil-wallet built with wasm-bindgen --target nodejs, or the npm
// package itself), and the same signatures one by one with libsodium.js,
// @noble/curves and WebCrypto Ed25519. With --unlock, also times unlocking a keystore
// made with the package's default Argon2id parameters. Prints one JSON object.
//
// usage: node protocol.mjs --fixtures FILE (--wasm DIR | --package DIR)
//                          [--only VALIDATORS] [--unlock] [--min-ms MS]

import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { webcrypto } from 'node:crypto';
import sodium from 'libsodium-wrappers';
import { ed25519 } from '@noble/curves/ed25519.js';

function arg(name, fallback) {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : fallback;
}

const fixturesPath = arg('--fixtures');
const wasmDir = arg('--wasm');
const packageDir = arg('--package');
const only = arg('--only');
const minMs = Number(arg('--min-ms', '1000'));
if (!fixturesPath || !(wasmDir || packageDir)) {
  console.error('usage: node protocol.mjs --fixtures FILE (--wasm DIR | --package DIR) [--only N] [--unlock] [--min-ms MS]');
  process.exit(2);
}

const fromHex = (h) => Uint8Array.from(Buffer.from(h, 'hex'));

// Calls `f` (sync or async) repeatedly for at least minMs; returns calls per second.
async function rate(f) {
  await f();
  const start = performance.now();
  let calls = 0;
  while (performance.now() - start < minMs) {
    await f();
    calls += 1;
  }
  return (calls * 1000) / (performance.now() - start);
}

let wasm;
if (packageDir) {
  wasm = await import(pathToFileURL(resolve(packageDir, 'node.js')).href);
  await wasm.init();
} else {
  wasm = createRequire(import.meta.url)(resolve(wasmDir, 'vigil_wallet.js'));
}
await sodium.ready;

const fixtures = JSON.parse(readFileSync(fixturesPath, 'utf8')).filter((f) => !only || f.validators === Number(only));
const results = [];
for (const fx of fixtures) {
  const n = fx.validators;
  const msg = fromHex(fx.message_hex);
  const sigs = fx.signatures.map((s) => ({ pk: fromHex(s.pk), sig: fromHex(s.sig) }));

  const set = wasm.TrustedValidatorSet.fromBytes(fromHex(fx.set_hex));
  const qc = fromHex(fx.qc_hex);
  if ((await set.verifyQuorumCert(qc)) !== n) throw new Error(`wasm: expected ${n} signers`);
  // The last signature (the verifier workers' share, where there are workers) forged:
  // refused, so what is timed below checks every signature.
  const forged = qc.slice();
  forged[forged.length - 1] ^= 1;
  if (await set.verifyQuorumCert(forged).then(() => true, (e) => e.code !== 'BAD_CERTIFICATE')) {
    throw new Error('wasm: a certificate with a forged signature was not refused as BAD_CERTIFICATE');
  }
  const wasmQcS = await rate(() => set.verifyQuorumCert(qc));

  for (const { pk, sig } of sigs) {
    if (!sodium.crypto_sign_verify_detached(sig, msg, pk)) throw new Error('libsodium rejected a valid signature');
    if (!ed25519.verify(sig, msg, pk)) throw new Error('noble rejected a valid signature');
  }
  const libsodiumQcS = await rate(() => {
    for (const { pk, sig } of sigs) sodium.crypto_sign_verify_detached(sig, msg, pk);
  });
  const nobleQcS = await rate(() => {
    for (const { pk, sig } of sigs) ed25519.verify(sig, msg, pk);
  });

  const keys = await Promise.all(
    sigs.map((s) => webcrypto.subtle.importKey('raw', s.pk, { name: 'Ed25519' }, false, ['verify'])),
  );
  for (let i = 0; i < sigs.length; i++) {
    if (!(await webcrypto.subtle.verify({ name: 'Ed25519' }, keys[i], sigs[i].sig, msg))) {
      throw new Error('WebCrypto rejected a valid signature');
    }
  }
  const webcryptoQcS = await rate(async () => {
    for (let i = 0; i < sigs.length; i++) await webcrypto.subtle.verify({ name: 'Ed25519' }, keys[i], sigs[i].sig, msg);
  });

  set.free();
  results.push({
    validators: n,
    wasm_batch_sig_s: wasmQcS * n,
    libsodium_sig_s: libsodiumQcS * n,
    noble_sig_s: nobleQcS * n,
    webcrypto_sig_s: webcryptoQcS * n,
  });
}
const out = { js: results, node: process.version };
if (process.argv.includes('--unlock')) {
  // Unlock as users do: a keystore sealed with the default parameters.
  const wallet = wasm.Wallet.generate();
  const keystore = wallet.seal('correct horse battery staple');
  const times = [];
  for (let i = 0; i < 5; i++) {
    const t = performance.now();
    wasm.Wallet.unlock(keystore, 'correct horse battery staple').free();
    times.push(performance.now() - t);
  }
  times.sort((a, b) => a - b);
  out.unlock_ms = times[2];
}
console.log(JSON.stringify(out));
