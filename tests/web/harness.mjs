// Shared by the browser e2e test and `cargo xtask bench web`: a real devnet (`vigil
// devnet` as processes on 127.0.0.1) whose gateway serves the built web wallet over TLS,
// and Debian's Chromium, headless, that trusts exactly that gateway's certificate.
// Env: VIGIL_BIN (the vigil binary), VIGIL_WWW (www/dist), VIGIL_E2E_DIR (screenshots).

import assert from 'node:assert/strict';
import { spawn, execFileSync } from 'node:child_process';
import { createHash, X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { freeBase } from '../ports.mjs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Agent } from 'undici';
import { chromium } from 'playwright-core';

export const VIGIL = process.env.VIGIL_BIN;
export const WWW = process.env.VIGIL_WWW;
assert.ok(VIGIL && WWW, 'set VIGIL_BIN and VIGIL_WWW (cargo xtask test and bench web do)');
const CHROMIUM = process.env.CHROMIUM_BIN ?? '/usr/bin/chromium';


/**
 * Starts a 4-node devnet (`byzantine` lying nodes) with `gateways` gateways, each serving
 * the wallet and listing the others for it to fail over to, `fund` addresses funded at
 * genesis. `url` is the first's (with the faucet), `urls` all of them; `stopGateway(i)`
 * kills gateway i's process; `ca` and `genesisJson` for a client in this process.
 */
export async function startDevnet({ byzantine = 0, gateways = 1, fund = [] } = {}) {
  const dir = mkdtempSync(join(tmpdir(), 'vigil-web-'));
  const port = await freeBase(26500, 55);
  const args = ['devnet', '--dir', dir, '--byzantine', String(byzantine), '--base-port', String(port), '--www', WWW];
  args.push('--gateways', String(gateways));
  const funding = fund.flatMap((a) => ['--fund', `${a}:1000000`]);
  execFileSync(VIGIL, [...args, '--write-only', ...funding], { stdio: 'ignore' });
  const child = spawn(VIGIL, args, { stdio: 'ignore' });
  const urls = Array.from({ length: gateways }, (_, i) => `https://localhost:${port + 200 + 2 * i}`);
  const url = urls[0];
  const ca = readFileSync(join(dir, 'gateway/tls/ca.pem'));
  const dispatcher = new Agent({ connect: { ca } });
  const getFrom = (base, path) => fetch(`${base}${path}`, { dispatcher }).then((r) => r.json());
  const get = (path) => getFrom(url, path);
  const deadline = Date.now() + 30_000;
  for (const base of urls) {
    for (;;) {
      try {
        const nodes = await getFrom(base, '/v1/nodes');
        if (nodes.nodes.filter((n) => n.healthy).length === 4) break;
      } catch {}
      if (Date.now() > deadline) throw new Error('devnet and gateways not ready within 30 s');
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  // Kills gateway i (SIGKILL: no goodbye to its clients) and waits until its port refuses.
  const stopGateway = async (i) => {
    const pid = Number(readFileSync(join(dir, i === 0 ? 'gateway' : `gateway-${i}`, 'gateway.pid'), 'utf8'));
    process.kill(pid, 'SIGKILL');
    for (const end = Date.now() + 10_000; Date.now() < end; ) {
      try {
        await fetch(`${urls[i]}/healthz`, { dispatcher });
      } catch {
        return;
      }
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error(`gateway ${i} still answers after SIGKILL`);
  };
  // Chromium trusts this gateway's key only (not the whole machine's CA store).
  const cert = new X509Certificate(readFileSync(join(dir, 'gateway/tls/gateway.pem')));
  const spki = createHash('sha256').update(cert.publicKey.export({ type: 'spki', format: 'der' })).digest('base64');
  const stop = async () => {
    if (child.exitCode === null) {
      child.kill('SIGINT');
      await new Promise((r) => child.once('exit', r));
    }
    rmSync(dir, { recursive: true, force: true });
  };
  const genesisJson = readFileSync(join(dir, 'genesis.json'), 'utf8');
  return { dir, url, urls, spki, get, stop, stopGateway, ca, genesisJson };
}

/**
 * Starts `vigil devnet --chains 2 --no-relayer` (two 4-node chains, their gateways from
 * one local CA, each serving the wallet and listing the other chain's gateway) funding
 * `fund` (if given) on both, and a relayer this test can stop (`stopRelayer`) and start
 * again (`startRelayer`). `urls`: each chain's gateway; `chains`: their ids;
 * `height(i)`: chain i's height as its first node says (not verified: a test's clock).
 */
export async function startTwoChains({ fund } = {}) {
  const dir = mkdtempSync(join(tmpdir(), 'vigil-web-across-'));
  const port = await freeBase(26500, 50, 2);
  const args = ['devnet', '--dir', dir, '--chains', '2', '--no-relayer', '--base-port', String(port), '--www', WWW];
  execFileSync(VIGIL, [...args, '--write-only', ...(fund ? ['--fund', `${fund}:1000000`] : [])], { stdio: 'ignore' });
  const child = spawn(VIGIL, args, { stdio: ['ignore', 'pipe', 'ignore'] });
  // The devnet says when each chain's validators have opened its connection to the other.
  let said = '';
  const opened = new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`connections not open within 120 s: ${said.slice(-400)}`)), 120_000);
    child.stdout.on('data', (d) => {
      said += d;
      if (said.includes('connections open both ways')) {
        clearTimeout(timer);
        resolve();
      }
    });
  });
  const urls = [port + 200, port + 500].map((p) => `https://localhost:${p}`);
  const ca = readFileSync(join(dir, 'chain-a/gateway/tls/ca.pem'));
  const dispatcher = new Agent({ connect: { ca } });
  const deadline = Date.now() + 60_000;
  for (const base of urls) {
    for (;;) {
      try {
        const nodes = await fetch(`${base}/v1/nodes`, { dispatcher }).then((r) => r.json());
        if (nodes.nodes.filter((n) => n.healthy).length === 4) break;
      } catch {}
      if (Date.now() > deadline) throw new Error('the two chains and their gateways not ready within 60 s');
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  await opened;
  let relayer = null;
  const startRelayer = () => {
    relayer = spawn(VIGIL, ['relayer', '--config', join(dir, 'relayer/relayer.toml')], { stdio: 'ignore' });
  };
  const stopRelayer = async () => {
    if (relayer && relayer.exitCode === null) {
      relayer.kill('SIGKILL');
      await new Promise((r) => relayer.once('exit', r));
    }
    relayer = null;
  };
  startRelayer();
  const cert = new X509Certificate(readFileSync(join(dir, 'chain-a/gateway/tls/gateway.pem')));
  const spki = createHash('sha256').update(cert.publicKey.export({ type: 'spki', format: 'der' })).digest('base64');
  const stop = async () => {
    await stopRelayer();
    if (child.exitCode === null) {
      child.kill('SIGINT');
      await new Promise((r) => child.once('exit', r));
    }
    rmSync(dir, { recursive: true, force: true });
  };
  const post = (i, path, body) =>
    fetch(`${urls[i]}${path}`, {
      dispatcher,
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
    }).then((r) => r.json());
  const height = (i) => fetch(`http://127.0.0.1:${port + 100 + 300 * i}/v1/status`).then((r) => r.json()).then((s) => s.height);
  return { dir, urls, chains: ['vigil-devnet-a', 'vigil-devnet-b'], spki, post, height, stop, startRelayer, stopRelayer };
}

/** Debian's Chromium, headless, as the machine's probe starts it. */
export function launchChromium(spki) {
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      `--ignore-certificate-errors-spki-list=${spki}`,
    ],
  });
}
