// The vault entry's verifier worker for Node (see verifier-pool.js).
import { parentPort } from 'node:worker_threads';
import { initSync, verifyVoteBatch } from './dist/vault/vigil_wallet.js';
import { verifierWorker } from './verifier-pool.js';

parentPort.on('message', verifierWorker(initSync, verifyVoteBatch, (answer) => parentPort.postMessage(answer)));
