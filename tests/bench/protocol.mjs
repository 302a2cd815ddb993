// JS side of `cargo xtask bench protocol`. Verifies the quorum certificates written by
// protocol/benches/qc.rs: with Vigil's wasm (batch verification, vigil-wallet built with
// wasm-bindgen --target nodejs), and the same signatures one by one with libsodium.js,
// @noble/curves and WebCrypto Ed25519. Prints one JSON object on stdout.
//
// usage: node protocol.mjs --fixtures FILE --wasm DIR [--min-ms MS]

import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { resolve } from 'node:path';
import { webcrypto } from 'node:crypto';
import sodium from 'libsodium-wrappers';
import { ed25519 } from '@noble/curves/ed25519.js';

function arg(name, fallback) {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : fallback;
}

const fixturesPath = arg('--fixtures');
const wasmDir = arg('--wasm');
const minMs = Number(arg('--min-ms', '1000'));
if (!fixturesPath || !wasmDir) {
  console.error('usage: node protocol.mjs --fixtures FILE --wasm DIR [--min-ms MS]');
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

const require = createRequire(import.meta.url);
const wasm = require(resolve(wasmDir, 'vigil_wallet.js'));
await sodium.ready;

const fixtures = JSON.parse(readFileSync(fixturesPath, 'utf8'));
const results = [];
for (const fx of fixtures) {
  const n = fx.validators;
  const msg = fromHex(fx.message_hex);
  const sigs = fx.signatures.map((s) => ({ pk: fromHex(s.pk), sig: fromHex(s.sig) }));

  const set = wasm.TrustedValidatorSet.fromBytes(fromHex(fx.set_hex));
  const qc = fromHex(fx.qc_hex);
  if (set.verifyQuorumCert(qc) !== n) throw new Error(`wasm: expected ${n} signers`);
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
console.log(JSON.stringify({ js: results, node: process.version }));
