// The npm package's browser entries (`index.js`, `vault.js`) in Debian's headless
// Chromium, as a bundler-free page imports them: a 32-signer quorum certificate from the
// golden vectors is split across the package's verifier Web Workers by default, a
// forgery in the workers' share is refused, and nothing logs an error. Served from
// 127.0.0.1 by this file. Run by `cargo xtask test` with VIGIL_NPM_DIR.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { readFile } from 'node:fs/promises';
import { extname, join, normalize } from 'node:path';
import { fileURLToPath } from 'node:url';
import { launchChromium } from './harness.mjs';

const NPM = process.env.VIGIL_NPM_DIR;
assert.ok(NPM, 'set VIGIL_NPM_DIR (cargo xtask test does)');
const VECTORS = fileURLToPath(new URL('../../protocol/tests/vectors/v1.json', import.meta.url));
const TYPES = { '.js': 'text/javascript', '.wasm': 'application/wasm', '.json': 'application/json', '.html': 'text/html' };

// The page: loads an entry, verifies the good and the forged certificate, reports.
const page = (entry) => `<!doctype html><meta charset="utf-8"><link rel="icon" href="data:,"><script type="module">
import { init, TrustedValidatorSet, verifierWorkers } from '/pkg/${entry}';
const v = await (await fetch('/vectors.json')).json();
const hex = (k) => Uint8Array.from(v[k].match(/../g), (b) => parseInt(b, 16));
await init();
const before = verifierWorkers();
const set = TrustedValidatorSet.fromBytes(hex('large_set_hex'));
const signers = await set.verifyQuorumCert(hex('large_qc_hex'));
const forged = await set.verifyQuorumCert(hex('large_forged_qc_hex')).then(() => 'accepted', (e) => e.code);
window.result = { before, signers, forged, workers: verifierWorkers(), cores: navigator.hardwareConcurrency };
</script>`;

let server, base, browser;

before(async () => {
  server = createServer(async (req, res) => {
    const path = new URL(req.url, 'http://x').pathname;
    try {
      let body, type;
      if (path.startsWith('/page/')) [body, type] = [page(path.slice('/page/'.length)), TYPES['.html']];
      else if (path === '/vectors.json') [body, type] = [await readFile(VECTORS), TYPES['.json']];
      else if (path.startsWith('/pkg/') && !normalize(path).includes('..')) {
        const file = join(NPM, normalize(path.slice('/pkg/'.length)));
        [body, type] = [await readFile(file), TYPES[extname(file)] ?? 'application/octet-stream'];
      } else throw new Error('not found');
      res.writeHead(200, { 'Content-Type': type }).end(body);
    } catch {
      res.writeHead(404).end();
    }
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${server.address().port}`;
  browser = await launchChromium('');
});

after(async () => {
  await browser?.close();
  server?.close();
});

for (const entry of ['index.js', 'vault.js']) {
  test(`${entry} in Chromium: a large certificate is verified across Web Workers, a forgery refused`, async () => {
    const tab = await browser.newPage();
    const errors = [];
    tab.on('console', (m) => m.type() === 'error' && errors.push(m.text()));
    tab.on('pageerror', (e) => errors.push(String(e)));
    await tab.goto(`${base}/page/${entry}`);
    await tab.waitForFunction(() => window.result, null, { timeout: 60_000 });
    const r = await tab.evaluate(() => window.result);
    assert.equal(r.before, 0, 'workers start at the first large certificate, not at init');
    assert.equal(r.signers, 32);
    assert.equal(r.forged, 'BAD_CERTIFICATE');
    assert.equal(r.workers, Math.min(r.cores - 1, 7), 'one verifier worker per core beyond the first');
    if (r.cores > 1) {
      const verifier = entry === 'index.js' ? '/pkg/verifier.js' : '/pkg/verifier-vault.js';
      assert.ok(tab.workers().some((w) => w.url().endsWith(verifier)), `a Web Worker runs ${verifier}`);
    }
    assert.deepEqual(errors, []);
    await tab.close();
  });
}
