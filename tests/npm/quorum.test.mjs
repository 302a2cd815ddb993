// The built npm package's quorum-certificate verification in Node, on the golden vectors
// native code produced (`protocol/tests/vectors/v1.json`): a 32-signer certificate is
// split across the package's verifier worker threads by default, a forgery in the
// workers' share is refused, and idle workers do not keep the process alive (this file
// would not end otherwise). Run by `cargo xtask test` with VIGIL_NPM_DIR.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

const PKG = process.env.VIGIL_NPM_DIR;
assert.ok(PKG, 'set VIGIL_NPM_DIR (cargo xtask test does)');
const vectors = JSON.parse(readFileSync(new URL('../../protocol/tests/vectors/v1.json', import.meta.url), 'utf8'));
const hex = (key) => Uint8Array.from(Buffer.from(vectors[key], 'hex'));
const refusal = (promise) => promise.then(() => 'accepted', (e) => e.code);

for (const entry of ['node.js', 'vault-node.js']) {
  test(`${entry}: a large certificate is verified across worker threads, a forgery in their share refused`, async () => {
    const pkg = await import(pathToFileURL(join(PKG, entry)).href);
    await pkg.init();
    assert.equal(pkg.verifierWorkers(), 0, 'workers start at the first large certificate, not at init');
    const set = pkg.TrustedValidatorSet.fromBytes(hex('large_set_hex'));
    assert.equal(await set.verifyQuorumCert(hex('large_qc_hex')), 32);
    const expected = Math.min(availableParallelism() - 1, 7);
    assert.equal(pkg.verifierWorkers(), expected, 'one verifier worker per core beyond the first');
    assert.equal(await refusal(set.verifyQuorumCert(hex('large_forged_qc_hex'))), 'BAD_CERTIFICATE');
    // Many at once: each answer is its own certificate's.
    const answers = await Promise.all(
      Array.from({ length: 8 }, (_, i) => refusal(set.verifyQuorumCert(hex(i % 2 ? 'large_forged_qc_hex' : 'large_qc_hex')))),
    );
    assert.deepEqual(answers, Array.from({ length: 8 }, (_, i) => (i % 2 ? 'BAD_CERTIFICATE' : 'accepted')));
    // A small certificate (the 4-validator vectors) stays on this thread; garbage is a typed error.
    const small = pkg.TrustedValidatorSet.fromBytes(hex('validator_set_hex'), vectors.validator_set_hash_hex);
    assert.equal(await refusal(small.verifyQuorumCert(hex('large_qc_hex'))), 'BAD_CERTIFICATE');
    assert.equal(await refusal(set.verifyQuorumCert(new Uint8Array([1, 2, 3]))), 'DECODE');
    set.free();
    small.free();
  });
}
