// The built npm package across two chains: `vigil devnet --chains 2 --no-relayer` as real
// processes (two 4-validator chains, their gateways over TLS from one local CA), and a
// `vigil relayer` this test starts, stops and starts again. Each chain has its own
// client; a transfer's steps are read on both, each verified against its own chain's
// certified header. Run by `cargo xtask test` with VIGIL_BIN and VIGIL_NPM_DIR.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { Agent, setGlobalDispatcher } from 'undici';
import { freeBase } from '../ports.mjs';

const VIGIL = process.env.VIGIL_BIN;
const PKG = process.env.VIGIL_NPM_DIR;
assert.ok(VIGIL && PKG, 'set VIGIL_BIN and VIGIL_NPM_DIR (cargo xtask test does)');
const { init, Wallet, VigilClient, CrossPacket } = await import(pathToFileURL(join(PKG, 'node.js')).href);

const ABANDON = `${'abandon '.repeat(23)}art`;
const CHAIN_A = 'vigil-devnet-a';
const CHAIN_B = 'vigil-devnet-b';
const FEE = 1n;
let dir, devnet, relayer, a, b, wallet, me;

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function startRelayer() {
  relayer = spawn(VIGIL, ['relayer', '--config', join(dir, 'relayer/relayer.toml')], { stdio: 'ignore' });
}

async function stopRelayer() {
  if (relayer && relayer.exitCode === null) {
    relayer.kill('SIGKILL');
    await new Promise((r) => relayer.once('exit', r));
  }
  relayer = null;
}

/** Polls `probe` until it returns a value, or fails after `ms` with `what`. */
async function until(what, ms, probe) {
  const deadline = Date.now() + ms;
  let last = 'no answer yet';
  for (;;) {
    const v = await probe().catch((e) => {
      last = `${e.code ?? ''} ${e.message}`;
      return undefined;
    });
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`${what}: not within ${ms / 1000} s (last: ${last})`);
    await sleep(250);
  }
}

/** The transfer's steps as watched until settled: each distinct step, in order. */
async function watch(source, destination, packet, ms = 60_000) {
  const seen = [];
  const last = await until(`packet ${packet.sequence} settled`, ms, async () => {
    const s = await VigilClient.transferStep(source, destination, packet);
    if (seen.at(-1)?.step !== s.step) seen.push(s);
    return s.settled ? s : undefined;
  });
  return { seen: seen.map((s) => s.step), last, all: seen };
}

before(async () => {
  await init();
  wallet = Wallet.fromPhrase(ABANDON);
  me = wallet.address(0);
  dir = mkdtempSync(join(tmpdir(), 'vigil-npm-across-'));
  const port = await freeBase(20000, 55, 2);
  const args = ['devnet', '--dir', dir, '--chains', '2', '--no-relayer', '--base-port', String(port)];
  execFileSync(VIGIL, [...args, '--write-only', '--fund', `${me}:1000000`], { stdio: 'ignore' });
  // Both chains' gateways have the devnet's one local CA: trust it, and nothing else.
  setGlobalDispatcher(new Agent({ connect: { ca: readFileSync(join(dir, 'chain-a/gateway/tls/ca.pem')) } }));
  devnet = spawn(VIGIL, args, { stdio: 'ignore' });
  startRelayer();
  const client = (chain, gatewayPort) =>
    new VigilClient({
      gateways: [`https://localhost:${gatewayPort}`],
      genesisJson: readFileSync(join(dir, chain, 'genesis.json'), 'utf8'),
    });
  a = client('chain-a', port + 200);
  b = client('chain-b', port + 500);
  // The devnet opens a connection each way once both chains serve.
  await until('connections open both ways', 120_000, async () => {
    const [ab, ba] = [await a.connection(CHAIN_B), await b.connection(CHAIN_A)];
    return ab.open && ba.open ? true : undefined;
  });
  // A transaction goes to every node of its chain, and reads are served by any: the
  // connections can be open while a gateway still waits to retry a node that was not
  // listening yet when it first tried it. Wait until each gateway serves all four.
  for (const gatewayPort of [port + 200, port + 500]) {
    await until(`the gateway on port ${gatewayPort} serves every node`, 60_000, async () => {
      const { nodes } = await fetch(`https://localhost:${gatewayPort}/v1/nodes`).then((r) => r.json());
      return nodes.filter((n) => n.healthy).length === 4 ? true : undefined;
    });
  }
});

after(async () => {
  await stopRelayer();
  if (devnet) {
    devnet.kill('SIGINT');
    await new Promise((r) => devnet.once('exit', r));
  }
  if (dir) rmSync(dir, { recursive: true, force: true });
});

test('a transfer across is sent, credited on B and acknowledged on A, each step verified on its chain; vouchers go home', async () => {
  const link = await a.connection(CHAIN_B);
  assert.equal(link.frozen, false);
  assert.equal(link.fastFinal, true, 'the devnet runs Fast mode: its connections act on Fast headers');
  assert.match(link.verification.method, /quorum certificate/);
  const before = (await a.account(me)).balance;

  const sent = await a.sendAcross(wallet, 0, { toChain: CHAIN_B, to: me, amount: 500n, relayerFee: 3n });
  assert.ok(sent.nodes.every((n) => n.verdict === 'agrees'), JSON.stringify(sent.nodes));
  const packet = sent.packet;
  assert.ok(packet instanceof CrossPacket);
  assert.equal(packet.source, CHAIN_A);
  assert.equal(packet.destination, CHAIN_B);
  assert.equal(packet.amount, 500n);
  assert.equal(packet.relayerFee, 3n);
  assert.equal(packet.sender, me);
  assert.ok(packet.timeout.sourceHeight > 0, 'a timeout in blocks of A by default');
  const kept = CrossPacket.fromBytes(packet.toBytes());
  assert.equal(kept.sequence, packet.sequence);

  const { seen, last } = await watch(a, b, kept);
  assert.equal(last.step, 'acknowledged', seen.join(' → '));
  assert.equal(last.refunded, false);
  assert.equal(last.receipt.credited, true);
  assert.ok(last.receipt.height > 0);
  assert.match(last.source.method, /quorum certificate/);
  assert.match(last.destination.method, /quorum certificate/);
  assert.notEqual(last.source.validator_set_hash, last.destination.validator_set_hash, 'each chain verified by its own set');
  assert.equal((await b.vouchers(CHAIN_A, me)).amount, 500n);
  assert.equal((await a.account(me)).balance, before - 500n - 3n - FEE);
  const channel = (await a.connection(CHAIN_B)).channel;
  assert.ok(channel.escrowed >= 500n, `A holds the coin in escrow: ${channel.escrowed}`);

  // Vouchers sent home: burnt on B, released from A's escrow.
  const home = await b.sendAcross(wallet, 0, { toChain: CHAIN_A, to: me, amount: 200n, asset: 'voucher' });
  const back = await watch(b, a, home.packet);
  assert.equal(back.last.step, 'acknowledged', back.seen.join(' → '));
  assert.equal((await b.vouchers(CHAIN_A, me)).amount, 300n);
  assert.equal((await a.account(me)).balance, before - 503n - FEE + 200n);
});

test('with the relayer stopped the transfer times out and is refunded on A once it runs again', async () => {
  await stopRelayer();
  const before = (await a.account(me)).balance;
  const sent = await a.sendAcross(wallet, 0, { toChain: CHAIN_B, to: me, amount: 700n, timeout: { blocks: 3 } });
  const packet = sent.packet;
  assert.equal((await VigilClient.transferStep(a, b, packet)).step, 'sent');
  assert.equal((await a.account(me)).balance, before - 700n - FEE, 'escrowed while in flight');
  // A moves past the timeout; B's client of A learns it once the relayer is back.
  const timeout = packet.timeout.sourceHeight;
  await until(`A past height ${timeout}`, 60_000, async () => {
    const height = (await a.connection(CHAIN_B)).verification.height;
    return height > timeout ? height : undefined;
  });
  startRelayer();
  const { seen, last } = await watch(a, b, packet, 90_000);
  assert.equal(last.step, 'refunded', seen.join(' → '));
  assert.equal(last.refunded, true);
  assert.equal(last.receipt, null, 'B never wrote a receipt: proven absent');
  assert.equal((await a.account(me)).balance, before - FEE, 'the amount came back');
  assert.equal((await b.vouchers(CHAIN_A, me)).amount, 300n, 'nothing was credited on B');
});

test('bad input is refused with a typed error and moves nothing', async () => {
  if (!relayer) startRelayer();
  const before = (await a.account(me)).balance;
  const send = (o) => a.sendAcross(wallet, 0, { toChain: CHAIN_B, to: me, amount: 5n, ...o });
  await assert.rejects(send({ amount: 5 }), { code: 'BAD_AMOUNT' }, 'a number is not an amount');
  await assert.rejects(send({ amount: 0n }), { code: 'BAD_AMOUNT' });
  await assert.rejects(send({ toChain: 'Not A Chain!' }), { code: 'BAD_CHAIN_ID' });
  await assert.rejects(send({ to: 'vigil1nope' }), { code: 'BAD_ADDRESS' });
  await assert.rejects(send({ asset: 'gold' }), { code: 'BAD_OPTIONS' });
  await assert.rejects(send({ timeout: { blocks: 0 } }), { code: 'BAD_OPTIONS' });
  await assert.rejects(send({ toChain: 'vigil-nowhere' }), { code: 'NO_CONNECTION' }, 'no connection to that chain');
  await assert.rejects(send({ asset: 'voucher', amount: 1_000_000n }), { code: 'INSUFFICIENT_BALANCE' }, 'more vouchers than held');
  const packet = (await a.sendAcross(wallet, 0, { toChain: CHAIN_B, to: me, amount: 5n, relayerFee: 0n })).packet;
  await assert.rejects(VigilClient.transferStep(b, a, packet), { code: 'WRONG_CHAIN' }, 'clients in the wrong order');
  await assert.rejects(VigilClient.transferStep(a, a, packet), { code: 'BUSY' }, 'one client for both chains');
  assert.throws(() => CrossPacket.fromBytes(new Uint8Array([1, 2, 3])), { code: 'DECODE' });
  await watch(a, b, packet);
  assert.equal((await a.account(me)).balance, before - 5n - FEE, 'only the one good transfer and its fee');
});
