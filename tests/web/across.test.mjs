// The web wallet across two chains in a real headless Chromium: `vigil devnet --chains 2
// --no-relayer` as processes, chain A's gateway serving the wallet and listing chain B's
// gateway (its CSP lets the page reach it), a `vigil relayer` this test stops and starts.
// The wallet follows both chains: a transfer A → B shown step by step, each step verified
// on its own chain; a transfer refunded after its timeout while the relayer was down;
// vouchers sent home. A screenshot of each step goes to target/e2e/ (PNG). No console
// errors allowed (a CSP violation would be one). Run by `cargo xtask test`.

import { test, before, after, beforeEach } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { startTwoChains, launchChromium } from './harness.mjs';

const SHOTS = process.env.VIGIL_E2E_DIR ?? new URL('../../target/e2e', import.meta.url).pathname;
const PASSWORD = 'correct horse battery staple';
const ABANDON = `${'abandon '.repeat(23)}art`;
let net, browser, page, me, A, B;
const problems = [];
let step = '';
beforeEach((t) => {
  step = t.name;
});

async function shot(name) {
  await page.screenshot({ path: join(SHOTS, `${name}.png`), fullPage: true });
}

/** The newest transfer on the Across page. */
const newest = () => page.locator('#across-transfers .transfer').first();

/**
 * Waits until the newest transfer's outcome is `want`, recording each outcome shown on
 * the way (a screenshot of each) — the steps as the user sees them arrive.
 */
async function outcomes(want, name, ms = 90_000) {
  const seen = [];
  const deadline = Date.now() + ms;
  for (;;) {
    const now = await newest().getAttribute('data-outcome');
    if (seen.at(-1) !== now) {
      seen.push(now);
      await shot(`across-${name}-${seen.length}-${now.replace(/[^a-z]+/g, '-')}`);
    }
    if (now === want) return seen;
    if (Date.now() > deadline) throw new Error(`outcome "${want}" not shown within ${ms / 1000} s; seen ${seen.join(' → ')}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** The newest transfer's step lines: [title, detail] each. */
async function steps() {
  const items = newest().locator('li.step');
  const out = [];
  for (let i = 0; i < (await items.count()); i++) {
    out.push([await items.nth(i).locator('strong').innerText(), await items.nth(i).locator('p').innerText()]);
  }
  return out;
}

async function sendAcross({ from = 'home', asset = 'native', amount, fee = '', timeout = '' }) {
  await page.locator(`#across-from-${from}`).check();
  await page.locator(`#across-asset-${asset}`).check();
  await page.getByLabel('Amount (units)').fill(amount);
  await page.getByLabel("Relayer's fee (units; 0 if empty)").fill(fee);
  await page.getByLabel('Timeout (blocks of the source chain)').fill(timeout);
  const before = await page.locator('#across-transfers .transfer').count();
  await page.getByRole('button', { name: 'Sign and send across' }).click();
  await page.locator('#across-transfers .transfer').nth(before).waitFor({ timeout: 60_000 });
}

before(async () => {
  mkdirSync(SHOTS, { recursive: true });
  net = await startTwoChains();
  [A, B] = net.chains;
  browser = await launchChromium(net.spki);
  page = await browser.newPage({ viewport: { width: 1200, height: 900 } });
  page.on('console', (m) => {
    if (m.type() === 'error') problems.push(`console: ${m.text()} (${m.location()?.url ?? ''}) during "${step}"`);
  });
  page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
  page.setDefaultTimeout(30_000);
});

after(async () => {
  await browser?.close();
  await net?.stop();
});

test('the wallet follows the other chain its gateway lists: pinned, shown in Settings', async () => {
  await page.goto(net.urls[0]);
  await page.getByRole('button', { name: 'Import a recovery phrase' }).click();
  await page.getByLabel('Recovery phrase (24 words)').fill(ABANDON);
  await page.getByLabel('Password for this browser (at least 8 characters)').fill(PASSWORD);
  await page.getByLabel('Repeat the password').fill(PASSWORD);
  await page.getByRole('button', { name: 'Import', exact: true }).click();
  await page.locator('#verified').waitFor();
  me = await page.locator('#address').inputValue();
  // Coin on both chains: A's faucet from the dashboard, B's from its gateway.
  await page.getByRole('button', { name: /Get 100,000 test units/ }).click();
  await page.locator('#balance', { hasText: '100,000' }).waitFor();
  const funded = await net.post(1, '/v1/faucet', { address: me });
  assert.ok(funded.height > 0, JSON.stringify(funded));

  await page.getByRole('button', { name: 'Settings' }).click();
  await page.locator('#other-chain-state', { hasText: `Following ${B} through ${net.urls[1]}` }).waitFor();
  assert.match(await page.locator('#other-pin').innerText(), new RegExp(`^Other chain: ${B}:[0-9a-f]{64}$`));
  // Named explicitly, the same gateway: still followed, still pinned.
  await page.getByLabel('Its gateway URL').fill(net.urls[1]);
  await page.getByRole('button', { name: 'Save' }).click();
  await page.locator('#other-chain-state', { hasText: `Following ${B}` }).waitFor();
  // A gateway the serving gateway does not list is refused before any request (the CSP
  // would block it): a message, not a console error.
  await page.getByLabel('Its gateway URL').fill('https://localhost:1');
  await page.getByRole('button', { name: 'Save' }).click();
  await page.locator('#other-chain-state', { hasText: 'may not connect to https://localhost:1' }).waitFor();
  await page.getByLabel('Its gateway URL').fill('');
  await page.getByRole('button', { name: 'Save' }).click();
  await page.locator('#other-chain-state', { hasText: `Following ${B}` }).waitFor();
  await shot('across-01-settings');
});

test('a transfer A → B shown step by step, each step verified on its own chain', async () => {
  await page.getByRole('button', { name: 'Across' }).click();
  await page.locator('#across-chains', { hasText: `${A} ⇄ ${B}` }).waitFor();
  await sendAcross({ amount: '500', fee: '3' });
  const seen = await outcomes('done', 'sent');
  assert.ok(['in flight', 'received, settling', 'done'].includes(seen[0]), seen.join(' → '));
  const lines = await steps();
  assert.deepEqual(lines.map(([t]) => t), [`Sent on ${A}`, `Received on ${B}`, `Acknowledged on ${A}`]);
  assert.match(lines[0][1], /^500 escrowed, packet \d+; verified in this browser against vigil-devnet-a's header at height \d+, signed by \d+ of set [0-9a-f]{4}/);
  assert.match(lines[1][1], /receipt at height \d+: 500 credited to .*; verified in this browser against vigil-devnet-b's header at height \d+/);
  assert.match(lines[2][1], /receipt proven on vigil-devnet-a: the transfer is final/);
  await page.locator(`#across-holdings li[data-chain="${B}"]`, { hasText: `vouchers of ${A}: 500 ` }).waitFor();
  await shot('across-02-done');
});

test('with the relayer stopped, the transfer times out and is shown refunded', async () => {
  await net.stopRelayer();
  const from = await net.height(0);
  await sendAcross({ amount: '700', timeout: '3' });
  await outcomes('in flight', 'refund');
  const waiting = await steps();
  assert.equal(waiting[1][0], `Received on ${B}`);
  assert.match(waiting[1][1], /^no receipt yet/);
  // Chain A moves past the timeout (3 blocks after the send) with no relayer about.
  for (const end = Date.now() + 60_000; (await net.height(0)) <= from + 5; ) {
    assert.ok(Date.now() < end, 'chain A did not move past the timeout');
    await new Promise((r) => setTimeout(r, 200));
  }
  net.startRelayer();
  const seen = await outcomes('refunded', 'refund');
  assert.ok(!seen.includes('done'), seen.join(' → '));
  const lines = await steps();
  assert.deepEqual(lines.map(([t]) => t), [`Sent on ${A}`, `Received on ${B}`, `Refunded on ${A}`]);
  assert.match(lines[1][1], /^never: no receipt, proven absent; verified in this browser against vigil-devnet-b's header/);
  assert.match(lines[2][1], /^700 and the relayer's fee are back with the sender: the timeout \(source height \d+\) passed with no receipt on vigil-devnet-b/);
  await page.getByRole('button', { name: 'Verify again' }).click();
  await page.locator(`#across-holdings li[data-chain="${B}"]`, { hasText: `vouchers of ${A}: 500 ` }).waitFor();
  await shot('across-03-refunded');
});

test('vouchers go home B → A', async () => {
  await sendAcross({ from: 'other', asset: 'voucher', amount: '200' });
  await outcomes('done', 'home');
  const lines = await steps();
  assert.deepEqual(lines.map(([t]) => t), [`Sent on ${B}`, `Received on ${A}`, `Acknowledged on ${B}`]);
  assert.match(lines[0][1], /^200 burnt \(vouchers going home\)/);
  await page.locator(`#across-holdings li[data-chain="${B}"]`, { hasText: `vouchers of ${A}: 300 ` }).waitFor();
  await shot('across-04-home');
  assert.deepEqual(problems, [], 'no console errors, no CSP violation');
});
