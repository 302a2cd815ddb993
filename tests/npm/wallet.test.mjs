// The built npm package `vigil-wallet` against a live devnet with one lying node:
// `vigil devnet --byzantine 1` as real processes, the gateway over TLS (its local CA
// trusted here only), the wallet in WebAssembly. Run by `cargo xtask test` with
// VIGIL_BIN (the vigil binary) and VIGIL_NPM_DIR (target/npm/vigil-wallet).

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { freeBase } from '../ports.mjs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { Agent, setGlobalDispatcher } from 'undici';

const VIGIL = process.env.VIGIL_BIN;
const PKG = process.env.VIGIL_NPM_DIR;
assert.ok(VIGIL && PKG, 'set VIGIL_BIN and VIGIL_NPM_DIR (cargo xtask test does)');
const { init, Wallet, VigilClient, verifyRowSignature } = await import(pathToFileURL(join(PKG, 'node.js')).href);

const ABANDON = `${'abandon '.repeat(23)}art`;
let dir, devnet, port, gateway, genesisJson, liar, client;


const api = (i, path) => fetch(`http://127.0.0.1:${port + 100 + i}${path}`).then((r) => r.json());

before(async () => {
  await init();
  const funded = Wallet.fromPhrase(ABANDON).address(0);
  dir = mkdtempSync(join(tmpdir(), 'vigil-npm-'));
  port = await freeBase(20000, 60);
  const args = ['devnet', '--dir', dir, '--byzantine', '1', '--base-port', String(port)];
  execFileSync(VIGIL, [...args, '--write-only', '--fund', `${funded}:1000000`], { stdio: 'ignore' });
  // Trust the devnet's local CA, and nothing else, for fetch in this process.
  setGlobalDispatcher(new Agent({ connect: { ca: readFileSync(join(dir, 'gateway/tls/ca.pem')) } }));
  devnet = spawn(VIGIL, args, { stdio: 'ignore' });
  gateway = `https://localhost:${port + 200}`;
  genesisJson = readFileSync(join(dir, 'genesis.json'), 'utf8');
  liar = JSON.parse(readFileSync(join(dir, 'node-3/node.key'), 'utf8')).public.node_id;
  const deadline = Date.now() + 30_000;
  for (;;) {
    try {
      const nodes = await fetch(`${gateway}/v1/nodes`).then((r) => r.json());
      if (nodes.nodes.filter((n) => n.healthy).length === 4) break;
    } catch {}
    if (Date.now() > deadline) throw new Error('devnet and gateway not ready within 30 s');
    await new Promise((r) => setTimeout(r, 100));
  }
  client = new VigilClient({ gateways: [gateway], genesisJson });
});

after(async () => {
  if (devnet) {
    devnet.kill('SIGINT');
    await new Promise((r) => devnet.once('exit', r));
  }
  if (dir) rmSync(dir, { recursive: true, force: true });
});

test('a transfer gets 4 verified receipts; the liar is caught, proven and jailed; transfers go on', async () => {
  assert.equal(await client.sync(), false);
  const wallet = Wallet.fromPhrase(ABANDON);
  const to = Wallet.generate().address(0);
  const mine = await client.account(wallet.address(0));
  assert.equal(mine.balance, 1_000_000n);
  assert.match(mine.verification.method, /quorum certificate .* Merkle membership proof/);

  const report = await client.transfer(wallet, 0, to, 1000n, 1n);
  await assert.rejects(client.transfer(wallet, 0, to, 1000, 1), { code: 'BAD_AMOUNT' }, 'a number is not an amount');
  await assert.rejects(client.transfer(wallet, 0, to, -1n, 1n), { code: 'BAD_AMOUNT' }, 'nor a negative bigint');
  assert.equal(report.nodes.length, 4);
  for (const n of report.nodes) assert.equal(n.verdict, n.node === liar ? 'disagrees' : 'agrees', JSON.stringify(n));
  assert.equal(report.evidence.length, 1);
  assert.equal(report.evidence[0].offender, liar);
  assert.equal(report.evidence[0].committed, true, report.evidence[0].detail);
  assert.equal(report.evidence[0].jailed, true);
  assert.equal(report.evidence[0].mode_after, 'Bft');

  const status = await api(0, '/v1/status');
  assert.equal(status.mode, 'Bft');
  assert.deepEqual(status.jailed, [liar]);
  assert.equal(client.trust().validators, 3, 'the wallet followed the certified set change');

  const theirs = await client.account(to);
  assert.equal(theirs.balance, 1000n);
  const again = await client.transfer(wallet, 0, to, 5n, 1n);
  assert.equal(again.nodes.length, 3);
  assert.ok(again.nodes.every((n) => n.verdict === 'agrees'), JSON.stringify(again.nodes));
  assert.equal((await client.account(to)).balance, 1005n);
});

test('a client started from a checkpoint (a pinned hash, or the genesis set) proves the same balance as one from genesis', async () => {
  const me = Wallet.fromPhrase(ABANDON).address(0);
  const deadline = Date.now() + 120_000;
  let latest;
  for (;;) {
    const r = await fetch(`http://127.0.0.1:${port + 100}/v1/checkpoints/latest`);
    if (r.status === 200) {
      latest = await r.json();
      break;
    }
    if (Date.now() > deadline) throw new Error('no stable checkpoint within 120 s');
    await new Promise((r) => setTimeout(r, 500));
  }
  const options = (checkpoint) => ({ gateways: [gateway], genesisJson, checkpoint });
  const byHash = await VigilClient.fromCheckpoint(options({ pinnedHash: latest.digest_hash }));
  const started = byHash.startedFrom();
  assert.equal(started.from, 'checkpoint');
  assert.equal(started.pin, 'hash');
  assert.equal(started.digestHash, latest.digest_hash);
  assert.equal(started.height, latest.height);
  assert.ok(started.ageBlocks >= 0 && started.ageBlocks <= 1024, JSON.stringify(started));
  // The genesis set pinned: the set change that jailed the liar is followed to the checkpoint, or after it.
  const bySet = await VigilClient.fromCheckpoint(options({}));
  assert.equal(bySet.startedFrom().pin, 'set');
  assert.equal(bySet.trust().validators, 3);
  assert.equal(client.startedFrom().from, 'genesis');
  assert.equal(client.trust().start.from, 'genesis');

  const want = await client.account(me);
  for (const c of [byHash, bySet]) {
    const got = await c.account(me);
    assert.equal(got.balance, want.balance);
    assert.equal(got.nonce, want.nonce);
    assert.ok(got.verification.height > started.height - 1, JSON.stringify(got.verification));
  }

  await assert.rejects(VigilClient.fromCheckpoint(options({ pinnedHash: '00'.repeat(32) })), { code: 'PINNED_HASH_MISMATCH' });
  await assert.rejects(VigilClient.fromCheckpoint(options({ pinnedHash: 'xyz' })), { code: 'BAD_HASH' });
  await assert.rejects(VigilClient.fromCheckpoint(options({ maxAgeBlocks: 1.5 })), { code: 'BAD_OPTIONS' });
  await assert.rejects(VigilClient.fromCheckpoint({ gateways: [gateway], genesisJson }), { code: 'BAD_OPTIONS' });
  assert.throws(() => new VigilClient(options({})), { code: 'BAD_OPTIONS' });
});

test('forged receipts, a header with too few signatures and a wrong proof are rejected with their codes', async () => {
  const wallet = Wallet.fromPhrase(ABANDON);
  const latest = await api(0, '/v1/blocks/latest');
  // A real receipt, then one byte of its signature changed.
  const block = await (async () => {
    for (let h = latest.height; h > 0; h--) {
      const b = await api(0, `/v1/blocks/${h}`);
      if (b.tx_hashes.length > 0) return b;
    }
    throw new Error('no block with a transaction');
  })();
  const tx = await api(0, `/v1/tx/${block.tx_hashes[0]}`);
  const receipt = Buffer.from(tx.receipt_bcs, 'hex');
  assert.equal(client.verifyReceipt(receipt).height, block.height);
  receipt[receipt.length - 1] ^= 1;
  assert.throws(() => client.verifyReceipt(receipt), { code: 'BAD_RECEIPT' });

  // The certified header with one signature (and one signer bit) left: below quorum.
  // BCS ends with: bitmap length (1), bitmap byte, signature count, signatures (each a
  // length byte and 64 bytes).
  const header = Buffer.from(latest.certified_header_bcs, 'hex');
  client.verifyHeader(header);
  const count = latest.cert.signatures.length;
  const sigStart = header.length - 65 * count;
  assert.equal(header[sigStart - 1], count);
  assert.equal(header[sigStart - 3], 1);
  const bitmap = header[sigStart - 2];
  const lowest = bitmap & -bitmap;
  const fewer = Buffer.concat([header.subarray(0, sigStart - 2), Buffer.from([lowest, 1]), header.subarray(sigStart, sigStart + 65)]);
  assert.throws(() => client.verifyHeader(fewer), { code: 'BAD_CERTIFICATE' });

  // An account proof used for another balance, or for another account.
  const me = wallet.address(0);
  const acc = await api(0, `/v1/accounts/${me}`);
  const ok = client.verifyAccountProof(me, acc.value_bcs, acc.proof_bcs, acc.certified_header_bcs);
  assert.equal(ok.balance, BigInt(acc.balance));
  const other = Wallet.generate().address(0);
  assert.throws(() => client.verifyAccountProof(other, acc.value_bcs, acc.proof_bcs, acc.certified_header_bcs), { code: 'BAD_PROOF' });
  const value = Buffer.from(acc.value_bcs, 'hex');
  value[0] ^= 1;
  assert.throws(() => client.verifyAccountProof(me, value.toString('hex'), acc.proof_bcs, acc.certified_header_bcs), { code: 'BAD_PROOF' });
});

test('a certificate: claims sealed to the five centers, approved by three, issued; verified in wasm, then revoked', async () => {
  await client.sync(); // the liar was jailed: follow the set change
  const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
  const deadline = Date.now() + 60_000;
  while ((await fetch(`${gateway}/v1/certs/root.pem`)).status !== 200) {
    if (Date.now() > deadline) throw new Error('the centers did not sign the root within 60 s');
    await sleep(250);
  }
  const wallet = Wallet.fromPhrase(ABANDON);
  const options = { commonName: 'npm-user', organization: 'Acme', claims: { email: 'npm@acme.example' }, validitySeconds: 86400 };
  const { requestId } = await client.requestCertificate(wallet, 0, options);
  let view;
  for (;;) {
    view = await client.certificateRequest(requestId);
    assert.notEqual(view.status, 'rejected', JSON.stringify(view.verdicts));
    if (view.status === 'issued') break;
    if (Date.now() > deadline) throw new Error(`not issued: ${JSON.stringify(view)}`);
    await sleep(200);
  }
  assert.equal(view.verdicts.length, 5);
  assert.ok(view.verdicts.filter((v) => v.verdict === 'approve').length >= 3);
  assert.match(view.method, /Merkle/);
  const answer = await api(0, `/v1/certs/${view.serial}`);
  const [pem] = answer.certificates_pem;
  const report = await client.verifyCertificate(pem);
  // Offline, on an answer fetched by other means: the same result; a value altered in
  // the answer is caught by its proof.
  const offline = client.verifyCertificateProof(pem, JSON.stringify(answer));
  assert.deepEqual([offline.state, offline.serial, offline.approvingCenters], [report.state, report.serial, report.approvingCenters]);
  assert.equal(offline.height, answer.proven.height);
  const forged = structuredClone(answer);
  forged.proven.entries[0].value_bcs = forged.proven.entries[0].value_bcs.replace(/^00/, '01');
  assert.throws(() => client.verifyCertificateProof(pem, JSON.stringify(forged)), { code: 'BAD_PROOF' });
  assert.equal(report.state, 'valid');
  assert.equal(report.serial, view.serial);
  assert.deepEqual(report.subject, { common_name: 'npm-user', organization: 'Acme' });
  assert.equal(report.approvingCenters.length, 3);
  assert.match(report.method, /group key/);
  const der = Buffer.from(pem.replace(/-----[^-]+-----|\s/g, ''), 'base64');
  assert.equal((await client.verifyCertificate(new Uint8Array(der))).state, 'valid', 'DER as well as PEM');
  der[der.length - 10] ^= 1; // in the signature
  await assert.rejects(client.verifyCertificate(new Uint8Array(der)), { code: 'NOT_BY_CONSORTIUM' });
  await assert.rejects(client.verifyCertificate('not a certificate'), { code: 'NOT_A_CERTIFICATE' });
  await assert.rejects(client.requestCertificate(wallet, 0, { ...options, commonName: '' }), { code: 'BAD_OPTIONS' });
  await assert.rejects(client.requestCertificate(wallet, 0, { ...options, validitySeconds: 0 }), { code: 'BAD_OPTIONS' });

  // Three centers' operators revoke it; the package sees it revoked.
  for (const i of [0, 1, 2]) {
    const config = join(dir, `center-${i}`, 'authcenter.toml');
    execFileSync(VIGIL, ['authcenter', '--config', config, 'vote', '--serial', view.serial, '--action', 'revoke', '--reason', 'npm test'], { stdio: 'ignore' });
  }
  assert.equal((await client.verifyCertificate(pem)).state, 'revoked');
});

test('a table: rows from plain objects checked before signing, pages proven complete, a tampered page refused offline', async () => {
  await client.sync();
  const wallet = Wallet.fromPhrase(ABANDON);
  await client.createTable(wallet, 0, {
    name: 'npm_orders', primary_key: [0], policy: 'Owner',
    columns: [{ name: 'id', ty: 'u64' }, { name: 'item', ty: 'string', max_len: 8 },
              { name: 'price', ty: { decimal: { scale: 2 } }, min: 0 }, { name: 'note', ty: 'bytes', nullable: true }],
  });
  for (const id of [3, 1, 2, 5, 4]) {
    await client.insertRow(wallet, 0, 'npm_orders', { id, item: `item-${id}`, price: `${id}.50` });
  }
  // Each bad row is refused in the module, before anything is signed, naming its column.
  await assert.rejects(client.insertRow(wallet, 0, 'npm_orders', { id: 9, item: 'x', price: '1', colour: 'red' }), { code: 'INVALID_ROW', message: /colour/ });
  await assert.rejects(client.insertRow(wallet, 0, 'npm_orders', { id: 9, item: 'far too long', price: '1' }), { code: 'INVALID_ROW', message: /item/ });
  await assert.rejects(client.insertRow(wallet, 0, 'npm_orders', { id: 9, item: 'x', price: '1.234' }), { code: 'INVALID_ROW', message: /price/ });
  await assert.rejects(client.insertRow(wallet, 0, 'npm_orders', { id: 1, item: 'x', price: '1' }), { code: 'DUPLICATE_KEY' });
  await assert.rejects(client.updateRow(wallet, 0, 'npm_orders', { id: 9, item: 'x', price: '1' }), { code: 'MISSING_ROW' });
  await assert.rejects(client.insertRow(wallet, 0, 'no_such', { id: 9 }), { code: 'UNKNOWN_TABLE' });

  const { row } = await client.getRow('npm_orders', { id: 2 });
  assert.deepEqual(row.values, { id: 2, item: 'item-2', price: '2.50', note: null });
  assert.equal((await client.getRow('npm_orders', { id: 7 })).row, null, 'proven absent');
  const first = await client.scanRows('npm_orders', { limit: 3 });
  assert.equal(first.complete, true);
  assert.match(first.method, /range proof/);
  const second = await client.scanRows('npm_orders', { after: first.next, limit: 3 });
  assert.deepEqual([...first.rows, ...second.rows].map((r) => r.values.id), [1, 2, 3, 4, 5]);
  assert.equal(second.next, null);

  // A node's page checked offline; one row removed, one added, two swapped: BAD_PROOF.
  const request = JSON.stringify({ limit: 10 });
  const answer = await fetch(`http://127.0.0.1:${port + 100}/v1/tables/npm_orders/scan`, {
    method: 'POST', headers: { 'content-type': 'application/json' }, body: request,
  }).then((r) => r.json());
  assert.equal(client.verifyScanProof('npm_orders', request, JSON.stringify(answer)).rows.length, 5);
  const tampered = [
    (a) => a.rows_bcs.splice(2, 1),
    (a) => a.rows_bcs.splice(1, 0, a.rows_bcs[0]),
    (a) => a.rows_bcs.reverse(),
  ];
  for (const tamper of tampered) {
    const a = structuredClone(answer);
    tamper(a);
    assert.throws(() => client.verifyScanProof('npm_orders', request, JSON.stringify(a)), { code: 'BAD_PROOF' });
  }
  // A row's signature stands on its own, offline.
  const signed = verifyRowSignature(answer.rows_bcs[0]);
  assert.equal(signed.writerAddress, wallet.address(0));
  // The chain id's first letter changed ('v' → 'w'): still a row, no longer the one signed.
  const forged = `${answer.rows_bcs[0].slice(0, 2)}77${answer.rows_bcs[0].slice(4)}`;
  assert.throws(() => verifyRowSignature(forged), { code: 'BAD_ROW_SIGNATURE' });
});

test('an audit: a supplier and three buyers; checked by each against its own trades and the rows, agreed; a lie disputed, naming the claim', async () => {
  const supplier = Wallet.fromPhrase(ABANDON);
  const buyers = [1, 2, 3];
  for (const b of buyers) await client.transfer(supplier, 0, supplier.address(b), 1000n, 1n);
  const holder = client.nodes().find((id) => id !== liar);
  const target = await client.registerTarget(supplier, 0, { name: 'acme-npm', holder, dimensions: ['production', 'shipments'] });
  assert.match(target, /^[0-9a-f]{64}$/);
  const trade = async (b, quantity, amount, number) => {
    await client.recordTrade(supplier, 0, { target, counterparty: supplier.address(b), quantity, amount, reference: `po-${number}` });
    await client.confirmTrade(supplier, b, target, number);
  };
  for (const [i, b] of buyers.entries()) await trade(b, BigInt(10 * b), BigInt(100 * b), i);
  const at = client.trust().latestVerifiedHeight;
  const rows = buyers.map((b) => ({ at, counterparty: supplier.address(b), quantity: BigInt(10 * b), amount: BigInt(100 * b), memo: `ship ${b}` }));
  assert.equal(await client.uploadRecords(supplier, 0, target, 'second', rows), 3);
  assert.equal(await client.uploadRecords(supplier, 0, target, 'first', [{ at, quantity: 60n, amount: 0n, memo: 'batch 1' }]), 1);
  const n = await client.submitAudit(supplier, 0, target, 200);
  for (const b of buyers) {
    const check = await client.noteAudit(supplier, b, target, n);
    assert.equal(check.verdict, 'confirm', JSON.stringify(check));
    assert.deepEqual(check.own, { quantity: 10 * b, amount: 100 * b, count: 1 });
    assert.equal(check.recordsChecked, 4);
  }
  const agreed = await client.audit(target, n);
  assert.equal(agreed.status, 'agreed');
  assert.equal(agreed.confirmations.length, 3);
  assert.equal(agreed.settledAt, Math.max(...agreed.confirmations.map((c) => c.height)));
  assert.match(agreed.verification.method, /quorum certificate/);

  // The supplier's shipment row says 6 where the trade both sides confirmed says 5.
  await trade(1, 5n, 50n, 3);
  const later = client.trust().latestVerifiedHeight;
  await client.uploadRecords(supplier, 0, target, 'second', [{ at: later, counterparty: supplier.address(1), quantity: 6n, amount: 50n }]);
  const lie = await client.submitAudit(supplier, 0, target, 200);
  const refused = await client.noteAudit(supplier, 1, target, lie);
  assert.equal(refused.verdict, 'refuse');
  assert.match(refused.reason, /the target's rows say 6/);
  const disputed = await client.audit(target, lie);
  assert.equal(disputed.status, 'disputed');
  assert.equal(disputed.refusals[0].claim, refused.claim);
  assert.equal(disputed.claims[refused.claim].counterparty, supplier.address(1));

  await assert.rejects(client.noteAudit(supplier, 4, target, n), { code: 'NOT_A_COUNTERPARTY' }, 'never traded with it');
  await assert.rejects(client.noteAudit(supplier, 2, target, lie), { code: 'NOT_A_COUNTERPARTY' }, 'not in that period');
  await assert.rejects(client.checkAudit(supplier, 1, 'xyz', 0), { code: 'BAD_TARGET' });
  await assert.rejects(client.uploadRecords(supplier, 0, target, 'third', []), { code: 'BAD_OPTIONS' });
  await assert.rejects(client.audit(target, 9), { code: 'UNKNOWN_AUDIT' });
  await assert.rejects(client.audit(target, -1), { code: 'BAD_OPTIONS' }, 'not a number an audit has');
});

test('keystore round trip, wrong password, and a bad phrase each have their code', () => {
  const w = Wallet.generate();
  const ks = w.seal('correct horse battery staple', 1024, 1);
  assert.equal(Wallet.unlock(ks, 'correct horse battery staple').address(3), w.address(3));
  assert.throws(() => Wallet.unlock(ks, 'correct horse battery stapler'), { code: 'WRONG_PASSWORD' });
  assert.throws(() => w.seal('short'), { code: 'WEAK_PASSWORD' });
  // 24 × "abandon" is all zeros with the wrong checksum word ("art" is right).
  assert.throws(() => Wallet.fromPhrase('abandon '.repeat(24)), { code: 'BAD_CHECKSUM' });
  assert.throws(() => Wallet.fromPhrase(`${'abandon '.repeat(23)}artt`), { code: 'UNKNOWN_WORD' });
  assert.throws(() => Wallet.fromPhrase('abandon art'), { code: 'WORD_COUNT' });
});

test('vault (`vigil-wallet/vault`): encrypt, split and upload in wasm, then download and rebuild, with progress', async () => {
  // The main entry stays lean; the vault entry is the whole API plus the vault.
  assert.equal(client.vaultUpload, undefined);
  const vault = await import(pathToFileURL(join(PKG, 'vault-node.js')).href);
  await vault.init();
  const vaultClient = new vault.VigilClient({ gateways: [gateway], genesisJson });
  await vaultClient.sync(); // the liar was jailed: follow the set change from genesis
  const wallet = vault.Wallet.fromPhrase(ABANDON);
  const VaultWallet = vault.Wallet;
  const bytes = new Uint8Array(300_000).map((_, i) => (i * 31) % 251);
  const phases = new Set();
  const up = await vaultClient.vaultUpload(wallet, 0, 'abandon@npm', 'photo.jpg', bytes, (phase, done, total) => {
    assert.ok(done <= total);
    phases.add(phase);
  });
  assert.deepEqual([...phases], ['encrypt', 'encode', 'upload', 'commit']);
  assert.equal(up.plaintext_len, bytes.length);
  assert.equal(up.stores.length, up.n);
  const listed = await vaultClient.vaultList(wallet.address(0));
  const mine = listed.find((m) => m.object_id === up.object_id);
  assert.equal(mine.label, 'photo.jpg');
  assert.equal(mine.fragment_hashes.length % up.n, 0);
  const down = await vaultClient.vaultDownload(wallet, 0, up.object_id);
  assert.deepEqual(down.bytes, bytes);
  assert.equal(down.report.tampered_shards, 0);
  assert.match(down.report.how_verified, /manifest proven/);
  // Another wallet cannot take it; a malformed id or user id has its code.
  await assert.rejects(vaultClient.vaultDownload(VaultWallet.generate(), 0, up.object_id), { code: 'VAULT' });
  await assert.rejects(vaultClient.vaultDownload(wallet, 0, 'xyz'), { code: 'BAD_HASH' });
  await assert.rejects(vaultClient.vaultUpload(wallet, 0, 'Not A User', '', bytes), { code: 'BAD_USER_ID' });
});

test("the README's example runs as written", () => {
  const readme = readFileSync(join(PKG, 'README.md'), 'utf8');
  const example = readme.match(/```js\n([\s\S]*?)```/)[1];
  assert.ok(example.split('\n').filter((l) => l.trim()).length <= 10, 'ten lines');
  const script = join(dir, 'example.mjs');
  const code = example
    .replace("from 'vigil-wallet'", `from ${JSON.stringify(pathToFileURL(join(PKG, 'node.js')).href)}`)
    .replace('GATEWAY_URL', JSON.stringify(gateway))
    .replace('GENESIS_JSON', JSON.stringify(genesisJson));
  writeFileSync(script, code);
  const out = execFileSync(process.execPath, [script], {
    env: { ...process.env, NODE_EXTRA_CA_CERTS: join(dir, 'gateway/tls/ca.pem') },
    encoding: 'utf8',
  });
  assert.match(out, /^vigil1\w+ 0n .*non-membership proof/);
});

test('importing the package touches no global; a call without fetch fails with a code', async () => {
  const script = join(dir, 'ssr.mjs');
  writeFileSync(
    script,
    `delete globalThis.fetch;
     const m = await import(${JSON.stringify(pathToFileURL(join(PKG, 'node.js')).href)});
     await m.init();
     const c = new m.VigilClient({ gateways: ['https://localhost:1'], genesisJson: ${JSON.stringify(genesisJson)} });
     try { await c.sync(); console.log('no error'); } catch (e) { console.log(e.code); }`,
  );
  const out = execFileSync(process.execPath, [script], { encoding: 'utf8' });
  assert.equal(out.trim(), 'GATEWAYS_DOWN');
});
