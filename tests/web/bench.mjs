// `cargo xtask bench web`: the web wallet's size and its time from navigation to an
// interactive dashboard, in Debian's headless Chromium against a live devnet. Each run
// is a fresh browser context (cold cache) holding a keystore, as a returning user has:
// navigation → unlock form (wasm loaded and rendered) → unlock (Argon2id 64 MiB) →
// balance verified against a certified header. The anchor, measured in the same runs,
// is the first paint of the static shell: what the same page costs without the app.
// Env as the e2e test: VIGIL_BIN, VIGIL_WWW.

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { startDevnet, launchChromium, WWW } from './harness.mjs';

const RUNS = Number(process.env.VIGIL_BENCH_RUNS ?? 7);
const PASSWORD = 'correct horse battery staple';
const ABANDON = `${'abandon '.repeat(23)}art`;
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

const wasm = readFileSync(join(WWW, 'vigil_web_bg.wasm'));
const glue = readFileSync(join(WWW, 'vigil_web.js'));
const gzKb = gzipSync(wasm, { level: 9 }).length / 1024;
const glueGzKb = gzipSync(glue, { level: 9 }).length / 1024;

const net = await startDevnet();
const browser = await launchChromium(net.spki);
try {
  // Once: import a wallet to get the keystore and pin a returning user has.
  const setup = await browser.newContext();
  const page = await setup.newPage();
  await page.goto(net.url);
  await page.getByRole('button', { name: 'Import a recovery phrase' }).click();
  await page.getByLabel('Recovery phrase (24 words)').fill(ABANDON);
  await page.getByLabel('Password for this browser').fill(PASSWORD);
  await page.getByLabel('Repeat the password').fill(PASSWORD);
  await page.getByRole('button', { name: 'Import' }).click();
  await page.locator('#verified').waitFor({ timeout: 60_000 });
  const storage = await page.evaluate(() => ({ ...localStorage }));
  await setup.close();

  const rows = [];
  for (let i = 0; i < RUNS; i++) {
    const ctx = await browser.newContext();
    await ctx.addInitScript((s) => {
      for (const [k, v] of Object.entries(s)) if (localStorage.getItem(k) === null) localStorage.setItem(k, v);
    }, storage);
    const p = await ctx.newPage();
    await p.goto(net.url, { waitUntil: 'commit' });
    await p.locator('#password').waitFor({ timeout: 30_000 });
    const ready = await p.evaluate(() => performance.now());
    const shell = await p.evaluate(() => performance.getEntriesByName('first-contentful-paint')[0]?.startTime ?? NaN);
    await p.getByLabel('Password').fill(PASSWORD);
    const submitted = await p.evaluate(() => performance.now());
    await p.getByRole('button', { name: 'Unlock' }).click();
    await p.locator('#verified').waitFor({ timeout: 30_000 });
    const done = await p.evaluate(() => performance.now());
    rows.push({ shell, ready, unlockAndVerify: done - submitted, interactive: ready + (done - submitted) });
    await ctx.close();
  }
  const m = (k) => median(rows.map((r) => r[k]));
  console.log(`web wallet in headless Chromium (${RUNS} cold loads, medians), gateway over TLS, 4-node devnet`);
  console.log(`  size           wasm ${(wasm.length / 1024).toFixed(0)} KB raw, ${gzKb.toFixed(0)} KB gzipped (target ≤ 600 KB); JS glue ${glueGzKb.toFixed(1)} KB gzipped`);
  console.log(`  anchor         static shell first paint ${m('shell').toFixed(0)} ms`);
  console.log(`  wallet         unlock form ready ${m('ready').toFixed(0)} ms (${(m('ready') / m('shell')).toFixed(1)}× the shell)`);
  console.log(`                 unlock (Argon2id 64 MiB) + verified balance ${m('unlockAndVerify').toFixed(0)} ms`);
  console.log(`  interactive    navigation → verified dashboard ${m('interactive').toFixed(0)} ms (typing time excluded)`);
  console.log(`bench web: ui_gz_kb=${gzKb.toFixed(0)} interactive_ms=${m('interactive').toFixed(0)} shell_ms=${m('shell').toFixed(0)} ready_ms=${m('ready').toFixed(0)}`);
} finally {
  await browser.close();
  await net.stop();
}
