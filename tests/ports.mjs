// Free loopback ports for a devnet started by the JS tests (tests/npm, tests/web): a
// base port whose node, API and gateway offsets (`vigil devnet --base-port`) are all
// free. `from` and `span` keep the two suites apart when they run at once, and below the
// kernel's ephemeral ports (32768 up), which outgoing connections take at any moment.

import { createServer } from 'node:net';

function free(p) {
  return new Promise((resolve) => {
    const s = createServer().once('error', () => resolve(false)).once('listening', () => s.close(() => resolve(true)));
    s.listen(p, '127.0.0.1');
  });
}

// `chains`: 2 for `vigil devnet --chains 2`, whose second chain is 300 ports above.
export async function freeBase(from, span, chains = 1) {
  const offsets = [0, 1, 2, 3, 100, 101, 102, 103, 200, 201, 202, 203];
  const all = Array.from({ length: chains }, (_, c) => offsets.map((o) => o + 300 * c)).flat();
  for (let tries = 0; tries < 50; tries++) {
    const base = from + Math.floor(Math.random() * span) * 100;
    const ports = all.map((o) => base + o);
    if ((await Promise.all(ports.map(free))).every(Boolean)) return base;
  }
  throw new Error('no free port range');
}
