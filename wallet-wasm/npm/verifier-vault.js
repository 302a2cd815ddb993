// The vault entry's verifier worker for browsers and bundlers (see verifier-pool.js).
import { initSync, verifyVoteBatch } from './dist/vault/vigil_wallet.js';
import { verifierWorker } from './verifier-pool.js';

const handle = verifierWorker(initSync, verifyVoteBatch, (answer) => self.postMessage(answer));
self.onmessage = (event) => handle(event.data);
