// JS side of `cargo xtask bench certs`: one certificate the devnet's centers issued,
// verified over and over — with Vigil's npm package in WebAssembly (the certificate's
// signature against the centers' group key, and its record with the Merkle proofs and
// the quorum certificate of the header they rest on: nothing cached between calls), and,
// as the anchor, the same certificate's signature alone with @peculiar/x509 over
// WebCrypto. Prints one JSON object.
//
// usage: node certs.mjs --package DIR --fixture FILE [--min-ms MS]
// The fixture (written by tests/e2e/benches/certs.rs): { genesisJson, rootPem, certPem, answer }.

import 'reflect-metadata';
import * as x509 from '@peculiar/x509';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { webcrypto } from 'node:crypto';

function arg(name, fallback) {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : fallback;
}

const packageDir = arg('--package');
const fixturePath = arg('--fixture');
const minMs = Number(arg('--min-ms', '1000'));
if (!packageDir || !fixturePath) {
  console.error('usage: node certs.mjs --package DIR --fixture FILE [--min-ms MS]');
  process.exit(2);
}
const fixture = JSON.parse(readFileSync(fixturePath, 'utf8'));

// Calls `f` (sync or async) repeatedly for at least minMs; returns calls per second.
async function rate(f) {
  await f();
  const start = performance.now();
  let calls = 0;
  while (performance.now() - start < minMs) {
    for (let i = 0; i < 16; i++) await f();
    calls += 16;
  }
  return (calls * 1000) / (performance.now() - start);
}

const { init, VigilClient } = await import(pathToFileURL(resolve(packageDir, 'node.js')).href);
await init();
const client = new VigilClient({ gateways: ['https://localhost:1'], genesisJson: fixture.genesisJson });
const answer = JSON.stringify(fixture.answer);
const report = client.verifyCertificateProof(fixture.certPem, answer);
if (report.state !== 'valid') throw new Error(`the fixture's certificate is ${report.state}`);
const wasm = await rate(() => client.verifyCertificateProof(fixture.certPem, answer));

x509.cryptoProvider.set(webcrypto);
const root = new x509.X509Certificate(fixture.rootPem);
const checkJs = async () => {
  // Parsed each time, as the wasm side parses its input each time.
  const cert = new x509.X509Certificate(fixture.certPem);
  if (!(await cert.verify({ publicKey: root.publicKey, signatureOnly: true }))) throw new Error('x509: does not verify');
};
const js = await rate(checkJs);

console.log(JSON.stringify({ wasm_verify_per_s: wasm, js_x509_verify_per_s: js, method: report.method }));
