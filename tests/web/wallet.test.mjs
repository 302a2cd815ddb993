// The web wallet in a real headless Chromium against a live devnet with one lying node:
// onboarding (create, confirm words, password) → faucet → send → signed receipts from
// every node, the liar named in a banner, the chain in BFT mode with the liar jailed →
// a second transfer verified by all remaining nodes → vault upload and download →
// explorer, settings, lock/unlock → a certificate requested, its verdicts live, issued,
// downloaded, revoked by three centers and verified revoked → the gateway that served the page killed, a transfer
// still verified through the second gateway.
// A screenshot of every step goes to target/e2e/ (PNG). No console errors allowed (a
// CSP violation would be one), except the failed requests to the killed gateway after
// it was killed. Run by `cargo xtask test`.

import { test, before, after, beforeEach } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { Agent, setGlobalDispatcher } from 'undici';
import { startDevnet, launchChromium, VIGIL } from './harness.mjs';

// The counterparties of the audit test act through the npm package in this process.
const NPM = process.env.VIGIL_NPM_DIR;
assert.ok(NPM, 'set VIGIL_NPM_DIR (cargo xtask test does)');
const npm = await import(pathToFileURL(join(NPM, 'node.js')).href);
await npm.init();
const ABANDON = `${'abandon '.repeat(23)}art`;
const buyers = npm.Wallet.fromPhrase(ABANDON);

const SHOTS = process.env.VIGIL_E2E_DIR ?? new URL('../../target/e2e', import.meta.url).pathname;
const PASSWORD = 'correct horse battery staple';
let net, browser, page, liarName, recipient;
const problems = [];
const failed = [];
// The origin of the gateway the test killed (its requests fail from then on, as they
// should), and those failures.
let killed = null;
const toKilled = [];
// Requests the page sent to each origin.
const sentTo = new Map();
let step = '';
beforeEach((t) => {
  step = t.name;
});

async function shot(name) {
  await page.screenshot({ path: join(SHOTS, `${name}.png`), fullPage: true });
}

before(async () => {
  mkdirSync(SHOTS, { recursive: true });
  net = await startDevnet({ byzantine: 1, gateways: 2, fund: [1, 2, 3].map((b) => buyers.address(b)) });
  setGlobalDispatcher(new Agent({ connect: { ca: net.ca } }));
  browser = await launchChromium(net.spki);
  page = await browser.newPage({ viewport: { width: 1200, height: 860 } });
  page.on('console', (m) => {
    if (m.type() !== 'error') return;
    const at = m.location()?.url ?? '';
    // A request to the killed gateway fails at the network level: expected. Anything
    // else (a CSP violation: "Refused to connect …") is a problem.
    const network = /^Failed to load resource: net::ERR_(CONNECTION_REFUSED|CONNECTION_RESET|EMPTY_RESPONSE|CONNECTION_CLOSED)/;
    if (killed && (at.startsWith(killed) || m.text().includes(killed)) && network.test(m.text())) {
      toKilled.push(`${m.text()} (${at})`);
      return;
    }
    problems.push(`console: ${m.text()}${at ? ` (${at})` : ''}`);
  });
  page.on('request', (r) => {
    const origin = new URL(r.url()).origin;
    sentTo.set(origin, [...(sentTo.get(origin) ?? []), `${r.method()} ${new URL(r.url()).pathname}`]);
  });
  page.on('requestfailed', (r) => {
    if (killed && r.url().startsWith(killed)) toKilled.push(`${r.method()} ${r.url()}: ${r.failure()?.errorText}`);
  });
  page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
  // Which request failed, for the message (the console line alone does not say).
  // A forward names the node and the path it was for; the test's own data, no secret.
  page.on('response', (r) => {
    if (r.status() < 400) return;
    let what = '';
    try {
      const f = JSON.parse(r.request().postData() ?? '');
      what = ` (to ${f.target ?? f.targets}: ${f.request?.method} ${f.request?.path})`;
    } catch {}
    failed.push(`${r.status()} ${r.request().method()} ${r.url()}${what} during "${step}"`);
  });
  page.setDefaultTimeout(30_000);
  liarName = 'node-3';
  recipient = (await net.get('/v1/faucet')).address;
});

after(async () => {
  await browser?.close();
  await net?.stop();
});

test('onboarding: create a wallet, confirm three words, set a password', async () => {
  await page.goto(net.url);
  await page.getByRole('heading', { name: 'Welcome to Vigil' }).waitFor();
  await shot('01-welcome');
  await page.getByRole('button', { name: 'Create a new wallet' }).click();
  const words = await page.locator('ol.phrase li').allTextContents();
  assert.equal(words.length, 24, 'a 24-word phrase is shown');
  await shot('02-phrase');
  await page.getByRole('button', { name: 'I have written it down' }).click();
  const labels = await page.locator('label[for^="word-"]').allTextContents();
  assert.equal(labels.length, 3);
  // A wrong word is refused with a message, and nothing is stored.
  const first = Number(labels[0].replace('Word #', ''));
  await page.getByLabel(labels[0], { exact: true }).fill(words[first % 24]);
  for (const l of labels.slice(1)) await page.getByLabel(l, { exact: true }).fill(words[Number(l.replace('Word #', '')) - 1]);
  await page.getByLabel('Password for this browser').fill(PASSWORD);
  await page.getByLabel('Repeat the password').fill(PASSWORD);
  await page.getByRole('button', { name: 'Create wallet' }).click();
  await page.getByRole('alert').filter({ hasText: 'do not match' }).waitFor();
  assert.equal(await page.evaluate(() => localStorage.getItem('vigil.keystore')), null);
  await page.getByLabel(labels[0], { exact: true }).fill(words[first - 1]);
  await shot('03-confirm');
  await page.getByRole('button', { name: 'Create wallet' }).click();
  await page.locator('#verified').waitFor();
  const keystore = JSON.parse(await page.evaluate(() => localStorage.getItem('vigil.keystore')));
  assert.equal(keystore.kdf.name, 'argon2id');
  assert.equal(keystore.kdf.m_cost_kib, 65536);
  assert.match(keystore.cipher.name, /xchacha20-?poly1305/i);
  // Nothing in the browser's storage holds the phrase (any three words of it in a row).
  const stored = await page.evaluate(() => JSON.stringify({ ...localStorage }));
  for (let i = 0; i + 3 <= 24; i++) assert.ok(!stored.includes(words.slice(i, i + 3).join(' ')), 'the phrase is not stored');
});

test('dashboard: a balance verified at a height, test funds from the faucet', async () => {
  assert.equal(await page.locator('#balance').innerText().then((t) => t.split(' ')[0]), '0');
  await page.getByRole('button', { name: /Get 100,000 test units/ }).click();
  await page.locator('#balance', { hasText: '100,000' }).waitFor();
  assert.match(await page.locator('#verified').innerText(), /verified at height \d+ · (just now|\d+ s old|\d+ min old)/);
  // A second node proved its height, so the balance shown is not an old one.
  assert.match(await page.locator('#cross-check').textContent(), /^Cross-checked: .+ proved height \d+ with its certificate\.$/);
  assert.equal(await page.locator('#mode').innerText(), 'Fast mode');
  const rows = page.locator('table tbody tr');
  assert.equal(await rows.count(), 4, 'four nodes listed');
  await shot('04-dashboard');
});

test('send: a mistyped address is refused; the liar is caught, proven, jailed; BFT mode', async () => {
  await page.getByRole('button', { name: 'Send', exact: true }).first().click();
  const typo = recipient.slice(0, -1) + (recipient.endsWith('q') ? 'p' : 'q');
  await page.getByLabel('Recipient address').fill(typo);
  await page.locator('#recipient-error', { hasText: 'checksum' }).waitFor();
  await page.getByLabel('Recipient address').fill(recipient);
  await page.getByLabel('Amount (units)').fill('2500');
  await page.getByRole('button', { name: 'Sign and send' }).click();
  await page.locator('#receipts').waitFor({ timeout: 60_000 });
  const rows = page.locator('#receipts tbody tr');
  assert.equal(await rows.count(), 4, 'a signed receipt asked of every node');
  assert.equal(await page.locator('#receipts tr.row-ok').count(), 3);
  const bad = page.locator('#receipts tr.row-bad');
  assert.equal(await bad.count(), 1);
  assert.match(await bad.innerText(), new RegExp(`${liarName}[\\s\\S]*lied`));
  const banner = page.locator('.banner.danger');
  await banner.waitFor();
  const text = await banner.innerText();
  assert.match(text, new RegExp(`${liarName} signed a receipt that contradicts`));
  assert.match(text, /evidence committed at height \d+/);
  assert.match(text, new RegExp(`${liarName} is jailed`));
  assert.match(text, /switched to BFT mode/);
  // 100,000 − 2,500 − fee 1 − the evidence transaction's fee 1.
  await page.locator('.muted', { hasText: 'Available: 97,498 units' }).waitFor();
  await shot('05-send-liar-caught');

  await page.getByRole('button', { name: 'Dashboard' }).click();
  assert.equal(await page.locator('#mode').innerText(), 'BFT mode');
  assert.match(await page.locator('.card', { hasText: 'Consensus' }).innerText(), new RegExp(`Jailed: ${liarName}`));
  await shot('06-dashboard-bft');
});

test('send again: every remaining node signs the same receipt', async () => {
  await page.getByRole('button', { name: 'Send', exact: true }).first().click();
  await page.getByLabel('Recipient address').fill(recipient);
  await page.getByLabel('Amount (units)').fill('100');
  await page.getByRole('button', { name: 'Sign and send' }).click();
  await page.locator('#receipts tbody tr').first().waitFor();
  await page.waitForFunction(() => document.querySelectorAll('#receipts tr.row-ok').length === 3, null, { timeout: 60_000 });
  assert.equal(await page.locator('#receipts tr.row-bad').count(), 0);
  assert.match(await page.locator('#receipts').innerText(), /3 of 3 receipts signed by validators/);
  await shot('07-send-verified');
});

test('vault: a file encrypted and split in the browser, uploaded, listed by store, downloaded intact', async () => {
  await page.getByRole('button', { name: 'Vault' }).click();
  await page.getByRole('heading', { name: 'Vault' }).waitFor();
  const content = Buffer.from(Array.from({ length: 400_000 }, (_, i) => (i * 7919) % 256));
  await page.getByLabel('User id').fill('e2e@vigil');
  await page.setInputFiles('#file', { name: 'ledger.bin', mimeType: 'application/octet-stream', buffer: content });
  await page.getByRole('button', { name: 'Encrypt and upload' }).click();
  await page.locator('#vault-note', { hasText: 'manifest committed' }).waitFor({ timeout: 60_000 }).catch(async (e) => {
    await shot('failed-vault-upload');
    throw e;
  });
  const row = page.locator('#objects tbody tr', { hasText: 'ledger.bin' });
  await row.waitFor();
  assert.match(await row.innerText(), /400,000 B[\s\S]*2 of 3: #1 node-\d, #2 node-\d, #3 node-\d/);
  assert.doesNotMatch(await row.innerText(), new RegExp(liarName), 'the jailed node holds nothing new');
  await shot('08-vault');
  const [download] = await Promise.all([page.waitForEvent('download'), row.getByRole('button', { name: 'Download' }).click()]);
  assert.equal(download.suggestedFilename(), 'ledger.bin');
  const got = readFileSync(await download.path());
  assert.ok(got.equals(content), 'the downloaded file is the uploaded one');
  await page.locator('#vault-note', { hasText: 'rebuilt from' }).waitFor();
  await shot('09-vault-downloaded');
});

test('explorer: recent blocks with their verified certificates and mode', async () => {
  await page.getByRole('button', { name: 'Explorer' }).click();
  await page.locator('#blocks tbody tr').first().waitFor();
  const rows = await page.locator('#blocks tbody tr').allInnerTexts();
  assert.ok(rows.length >= 3, rows.join('\n'));
  assert.match(rows[0], /bft/);
  assert.ok(rows.every((r) => /✓ \d signers/.test(r)), rows.join('\n'));
  await shot('10-explorer');
});

test('settings, lock on demand, wrong password refused, unlock', async () => {
  await page.getByRole('button', { name: 'Settings' }).click();
  assert.equal(await page.locator('input[name=cross-check]').count(), 3, 'the jailed node is no longer offered');
  await shot('11-settings');
  await page.getByRole('button', { name: 'Lock' }).click();
  await page.getByRole('heading', { name: 'Unlock your wallet' }).waitFor();
  await page.getByLabel('Password').fill('not my password');
  await page.getByRole('button', { name: 'Unlock' }).click();
  await page.getByRole('alert').filter({ hasText: 'Wrong password' }).waitFor();
  await shot('12-unlock-wrong-password');
  await page.getByLabel('Password').fill(PASSWORD);
  await page.getByRole('button', { name: 'Unlock' }).click();
  // 97,397 after the transfers, less the vault's two transactions (register: 10, manifest: 1).
  await page.locator('#balance', { hasText: '97,386' }).waitFor();
});

test('settings: the light client starts from a checkpoint verified against the genesis set, a wrong pinned hash is refused, then genesis again', async () => {
  // The devnet's first stable checkpoint (every 64 blocks), through the gateway.
  const { nodes } = await net.get('/v1/nodes');
  const id = nodes.find((n) => n.healthy).id;
  for (const end = Date.now() + 120_000; ; ) {
    const cp = await net.get(`/v1/node/${id}/v1/checkpoints/latest`).catch(() => ({}));
    if (cp.digest_hash) break;
    assert.ok(Date.now() < end, 'no stable checkpoint within 120 s');
    await new Promise((r) => setTimeout(r, 1000));
  }
  await page.getByRole('button', { name: 'Settings' }).click();
  assert.match(await page.locator('#settings-started-from').innerText(), /started from genesis/);
  await page.getByLabel('The newest stable checkpoint, verified against the pinned genesis set').check();
  await page.getByRole('button', { name: 'Save' }).click();
  await page.getByRole('button', { name: 'Dashboard' }).click();
  const started = page.locator('#started-from', { hasText: /started from checkpoint #\d+ \(hash [0-9a-f]+…\), verified against the pinned genesis set/ });
  await started.waitFor({ timeout: 60_000 });
  await page.locator('#balance', { hasText: '97,386' }).waitFor();
  await shot('13-dashboard-from-checkpoint');

  await page.getByRole('button', { name: 'Settings' }).click();
  await page.getByLabel('The stable checkpoint whose hash I pin:').check();
  await page.getByLabel('Checkpoint hash to pin').fill('00'.repeat(32));
  await page.getByRole('button', { name: 'Save' }).click();
  await page.getByRole('alert').filter({ hasText: 'could not start from a checkpoint' }).first().waitFor({ timeout: 60_000 });
  await shot('14-settings-wrong-checkpoint-hash');
  await page.getByLabel('Genesis: every validator-set change, followed from the pinned genesis set').check();
  await page.getByRole('button', { name: 'Save' }).click();
  await page.getByRole('button', { name: 'Dashboard' }).click();
  await page.locator('#started-from', { hasText: 'started from genesis' }).waitFor({ timeout: 60_000 });
  await page.locator('#balance', { hasText: '97,386' }).waitFor();
});

test('certificates: requested with live verdicts from five centers, issued, downloaded, verified; revoked and shown revoked', async () => {
  await page.getByRole('button', { name: 'Certificates' }).click();
  await page.getByRole('heading', { name: 'Certificates' }).waitFor();
  await page.getByLabel('Common name').fill('e2e-browser');
  await page.getByLabel('Organisation (optional)').fill('Acme');
  await page.getByLabel('E-mail (sealed to the centers)').fill('e2e@acme.example');
  await page.getByLabel('Validity (days; 365 if empty)').fill('30');
  await page.getByRole('button', { name: 'Request certificate' }).click();
  await page.locator('#verdicts tbody tr').first().waitFor({ timeout: 60_000 });
  await shot('cert-1-verdicts');
  await page.locator('#issued-report', { hasText: 'Valid' }).waitFor({ timeout: 60_000 }).catch(async (e) => {
    await shot('failed-cert-issue');
    throw e;
  });
  assert.ok((await page.locator('#verdicts tr.row-ok').count()) >= 3, 'three centers approved');
  assert.match(await page.locator('#issued-report').innerText(), /Approved by\s+center-\d, center-\d, center-\d/);
  await shot('cert-2-issued');
  const [download] = await Promise.all([page.waitForEvent('download'), page.getByRole('button', { name: 'Download PEM' }).click()]);
  const pem = readFileSync(await download.path(), 'utf8');
  assert.match(pem, /^-----BEGIN CERTIFICATE-----\n/);
  const serial = download.suggestedFilename().replace(/\.pem$/, '');
  assert.match(serial, /^[0-9a-f]{32}$/);

  // Three centers' operators revoke it; pasted and verified in the page, it is revoked.
  for (const i of [0, 1, 2]) {
    const config = join(net.dir, `center-${i}`, 'authcenter.toml');
    execFileSync(VIGIL, ['authcenter', '--config', config, 'vote', '--serial', serial, '--action', 'revoke', '--reason', 'browser e2e'], { stdio: 'ignore' });
  }
  await page.getByLabel('Certificate (PEM)').fill(pem);
  await page.getByRole('button', { name: 'Verify', exact: true }).click();
  await page.locator('#verify-report', { hasText: 'Revoked' }).waitFor();
  assert.match(await page.locator('#verify-report').innerText(), /group key/);
  await shot('cert-3-revoked');
  await page.getByRole('button', { name: 'Show pending requests' }).click();
  await page.getByText('No request is waiting.').waitFor();
  // 97,386 before, less the request's fee.
  await page.getByRole('button', { name: 'Dashboard' }).click();
  await page.locator('#balance', { hasText: '97,376' }).waitFor();
});

test('tables: a table created, rows inserted through the form generated from its schema, pages verified complete, the history of a row', async () => {
  await page.getByRole('button', { name: 'Tables' }).click();
  await page.getByRole('heading', { name: 'Tables' }).waitFor();
  await page.getByRole('button', { name: 'Create table' }).click(); // the example schema, as shown
  await page.locator('#table-list button[data-table="orders"]').click({ timeout: 60_000 });
  await page.locator('#table-view').waitFor();
  // Each field is checked as it is typed, by the schema's rules.
  await page.locator('#row-id').fill('-4');
  await page.locator('#row-id-error', { hasText: 'whole number' }).waitFor();
  await page.locator('#row-qty').fill('5000');
  await page.locator('#row-qty-error', { hasText: 'outside its range' }).waitFor();
  await page.locator('#row-price').fill('1.234');
  await page.locator('#row-price-error', { hasText: 'at most 2 digits' }).waitFor();
  await shot('tables-1-form');
  for (let id = 11; id >= 1; id -= 1) {
    await page.locator('#row-id').fill(String(id));
    await page.locator('#row-item').fill(`item-${id}`);
    await page.locator('#row-qty').fill(String(id));
    await page.locator('#row-price').fill(`${id}.50`);
    await page.locator('#insert-row').click();
    await page.locator('#table-view .muted', { hasText: `${12 - id} rows` }).waitFor({ timeout: 60_000 });
  }
  await page.locator('#page-status', { hasText: 'Page 1: 10 rows, verified complete' }).waitFor();
  // The page is read again after the last insert: wait for it to hold row 1.
  await page.locator('#row-table tbody tr:first-child td:first-child', { hasText: /^1$/ }).waitFor();
  assert.deepEqual(await page.locator('#row-table tbody tr td:first-child').allTextContents(), ['1', '2', '3', '4', '5', '6', '7', '8', '9', '10']);
  await shot('tables-2-page');
  await page.locator('#next-page').click();
  await page.locator('#page-status', { hasText: 'Page 2: 1 rows, verified complete' }).waitFor();
  assert.deepEqual(await page.locator('#row-table tbody tr td:first-child').allTextContents(), ['11']);
  assert.match(await page.locator('#rows').innerText(), /range proof/);
  await page.locator('.row-open').first().click();
  await page.locator('#row-history li').first().waitFor();
  assert.match(await page.locator('#row-history').innerText(), /Insert at height \d+/);
  assert.match(await page.locator('#row-detail').innerText(), /Signature \(Ed25519, verified\)/);
  await shot('tables-3-history');
});

test('audits: a target registered, trades and rows recorded, an audit submitted; confirmations arrive, agreed; a lie disputed with its reason', async () => {
  const client = new npm.VigilClient({ gateways: [net.url], genesisJson: net.genesisJson });
  await client.sync(); // the liar was jailed: follow the certified set change first
  const page$ = page.locator('.page:not([hidden])');
  await page.getByRole('button', { name: 'Audits' }).click();
  await page.locator('#target-name').fill('acme-web');
  await page.getByRole('button', { name: 'Register target' }).click();
  const target = (await page.locator('#audit-target').innerText({ timeout: 60_000 })).trim();
  assert.match(target, /^[0-9a-f]{64}$/);
  let trades = 0;
  const trade = async (b, quantity, amount, rowQuantity = quantity) => {
    await page.locator('#trade-to').fill(buyers.address(b));
    await page.locator('#trade-quantity').fill(String(quantity));
    await page.locator('#trade-amount').fill(String(amount));
    await page.getByRole('button', { name: 'Record trade' }).click();
    await page$.locator('.notice', { hasText: `Trade ${trades} recorded` }).waitFor({ timeout: 60_000 });
    await client.confirmTrade(buyers, b, target, trades);
    trades += 1;
    await page.locator('#row-second').check();
    await page.locator('#row-to').fill(buyers.address(b));
    await page.locator('#row-quantity').fill(String(rowQuantity));
    await page.locator('#row-amount').fill(String(amount));
    await page.getByRole('button', { name: 'Sign and keep the row' }).click();
    await page$.locator('.notice', { hasText: `the node holds ${trades} rows` }).waitFor({ timeout: 60_000 });
  };
  for (const b of [1, 2, 3]) await trade(b, 10 * b, 100 * b);
  await shot('audits-1-recorded');
  await page.getByRole('button', { name: 'Submit audit' }).click();
  await page.locator('#audit-view[data-status="pending"]').waitFor({ timeout: 60_000 });
  assert.equal(await page.locator('#audit-claims li[data-state="awaited"]').count(), 3);
  await shot('audits-2-submitted');
  const number = Number((await page.locator('#audit-view h2').innerText()).match(/Audit (\d+)/)[1]);
  for (const [i, b] of [1, 2, 3].entries()) {
    const check = await client.noteAudit(buyers, b, target, number);
    assert.equal(check.verdict, 'confirm', JSON.stringify(check));
    if (i < 2) await page.locator('#audit-claims li[data-state="confirmed"]').nth(i).waitFor();
  }
  await page.locator('#audit-view[data-status="agreed"]').waitFor();
  assert.equal(await page.locator('#audit-claims li[data-state="confirmed"]').count(), 3);
  assert.match(await page.locator('#audit-status').innerText(), /^Agreed at height \d+/);
  assert.match(await page.locator('#audit-view').innerText(), /Verified against the certified header at height \d+/);
  await shot('audits-3-agreed');

  // The supplier's row says 6 where the trade both sides confirmed says 5.
  await trade(1, 5, 50, 6);
  await page.getByRole('button', { name: 'Submit audit' }).click();
  await page.locator('#audit-view[data-status="pending"]').waitFor({ timeout: 60_000 });
  const lie = Number((await page.locator('#audit-view h2').innerText()).match(/Audit (\d+)/)[1]);
  assert.equal(lie, number + 1);
  assert.equal((await client.noteAudit(buyers, 1, target, lie)).verdict, 'refuse');
  await page.locator('#audit-view[data-status="disputed"]').waitFor();
  assert.match(await page.locator('#audit-claims li[data-state="refused"]').innerText(), /refused at height \d+: .*the target's rows say 6/);
  await shot('audits-4-disputed');
});

test('narrow screen and dark theme render the dashboard', async () => {
  await page.setViewportSize({ width: 390, height: 844 });
  await shot('15-dashboard-narrow');
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  assert.ok(overflow <= 0, `no horizontal scrolling on a phone (overflow ${overflow}px)`);
  await page.emulateMedia({ colorScheme: 'dark' });
  await page.setViewportSize({ width: 1200, height: 860 });
  await shot('16-dashboard-dark');
  const bg = await page.evaluate(() => getComputedStyle(document.body).backgroundColor);
  assert.notEqual(bg, 'rgb(246, 247, 251)', 'the dark theme applies');
});

test('failover: the gateway that served the page is killed; a transfer is verified through the other', async () => {
  const [first, second] = net.urls;
  await page.getByRole('button', { name: 'Settings' }).click();
  const used = await page.locator('#gateways li.gateway-used').allInnerTexts();
  assert.deepEqual(used.map((t) => t.split(' ')[0]), [first, second], 'the serving gateway first, then the one it lists');
  await shot('17-settings-gateways');
  sentTo.clear();
  killed = first;
  await net.stopGateway(0);
  await page.getByRole('button', { name: 'Send', exact: true }).first().click();
  await page.getByLabel('Recipient address').fill(recipient);
  await page.getByLabel('Amount (units)').fill('50');
  await page.getByRole('button', { name: 'Sign and send' }).click();
  await page.waitForFunction(() => document.querySelectorAll('#receipts tr.row-ok').length === 3, null, { timeout: 60_000 });
  assert.equal(await page.locator('#receipts tr.row-bad').count(), 0);
  assert.match(await page.locator('#receipts').innerText(), /3 of 3 receipts signed by validators/);
  await shot('18-send-through-second-gateway');
  const relayed = (sentTo.get(second) ?? []).filter((r) => r.startsWith('POST /v1/relay/'));
  assert.ok(relayed.length >= 3, `the transfer went through the second gateway: ${relayed.join(', ')}`);
  assert.ok(toKilled.length > 0, 'the killed gateway was tried, and failed');
  await page.getByRole('button', { name: 'Dashboard' }).click();
  // 97,376 before the tables (less a deposit of 500, a fee of 10 and 11 rows' fees):
  // 96,855; less the audits' 7 fees (a registration, 4 trades, 2 audits): 96,848; less
  // 50 and the fee.
  await page.locator('#balance', { hasText: '96,797' }).waitFor();
});

test('no console errors and no CSP violations', () => {
  assert.deepEqual(problems, [], `failed requests: ${failed.join(', ') || 'none'}`);
});
