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
 * the wallet and listing the others for it to fail over to. `url` is the first's (with
 * the faucet), `urls` all of them; `stopGateway(i)` kills gateway i's process.
 */
export async function startDevnet({ byzantine = 0, gateways = 1 } = {}) {
  const dir = mkdtempSync(join(tmpdir(), 'vigil-web-'));
  const port = await freeBase(26500, 55);
  const args = ['devnet', '--dir', dir, '--byzantine', String(byzantine), '--base-port', String(port), '--www', WWW];
  args.push('--gateways', String(gateways));
  execFileSync(VIGIL, [...args, '--write-only'], { stdio: 'ignore' });
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
  return { dir, url, urls, spki, get, stop, stopGateway };
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
