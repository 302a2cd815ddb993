// The built npm package's quorum-certificate verification in Node, on the golden vectors
// native code produced (`protocol/tests/vectors/v1.json`): a 32-signer certificate is
// split across the package's verifier worker threads by default, a forgery in the
// workers' share is refused, and idle workers do not keep the process alive (this file
// would not end otherwise); a failed load is tried again. Run by `cargo xtask test`
// with VIGIL_NPM_DIR.

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

// The pool itself, on stand-in workers (what each does is the point here): a worker's
// "no" is an answer, while a worker that fails or never answers rejects the call (the
// wasm then verifies that share itself), and the pool stops and stops using its workers.
test('the verifier pool: a no is an answer; a failed or stuck worker rejects, is stopped, and is not used again', async () => {
  const { verifierPool } = await import(pathToFileURL(join(PKG, 'verifier-pool.js')).href);
  const standIn = (behaviour) => {
    const log = { spawned: 0, stopped: 0, posted: 0 };
    const spawn = () => {
      log.spawned += 1;
      let onMessage, onError, keepAlive;
      return {
        post: ({ id, batch }) => {
          log.posted += 1;
          behaviour({ id, batch, answer: (ok) => onMessage({ id, ok }), die: () => onError(new Error('died')) });
        },
        listen: (m, e) => ([onMessage, onError] = [m, e]),
        // As a Node worker's `ref()` does: the process lives while a worker has work.
        hold(busy) {
          if (busy) keepAlive ??= setInterval(() => {}, 1_000);
          else keepAlive = void clearInterval(keepAlive);
        },
        stop: () => (log.stopped += 1),
      };
    };
    return { log, spawn };
  };
  const batches = () => [new Uint8Array([1]), new Uint8Array([2]), new Uint8Array([3])];

  const says = standIn(({ batch, answer }) => queueMicrotask(() => answer(batch[0] !== 2)));
  const pool = verifierPool(says.spawn, 2, 1_000);
  assert.equal(await pool.verify(batches()), false, 'one batch said no');
  assert.equal(await pool.verify([new Uint8Array([1])]), true);
  assert.deepEqual([says.log.spawned, pool.running()], [2, 2], 'started once, at the first call');

  for (const [name, behaviour] of [
    ['dies', ({ die }) => queueMicrotask(die)],
    ['never answers', () => {}],
  ]) {
    const w = standIn(behaviour);
    const p = verifierPool(w.spawn, 2, 50);
    await assert.rejects(p.verify(batches()), `a worker that ${name} rejects the call`);
    assert.equal(w.log.stopped, 2, `a worker that ${name}: every worker is stopped`);
    assert.equal(p.running(), 0);
    const posted = w.log.posted;
    await assert.rejects(p.verify(batches()));
    assert.equal(w.log.posted, posted, 'and not used again');
  }
});

test('init: a load that failed is not kept, the next init() tries again', async () => {
  // A fresh instance of the entry (its own `init` state).
  const entry = await import(`${pathToFileURL(join(PKG, 'node.js')).href}?retry`);
  await assert.rejects(entry.init(new Uint8Array([0, 97, 115, 109, 9])), 'not a wasm module');
  await entry.init();
  const set = entry.TrustedValidatorSet.fromBytes(hex('large_set_hex'));
  assert.equal(await set.verifyQuorumCert(hex('large_qc_hex')), 32);
});
