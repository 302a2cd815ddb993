// vigil-wallet for Node: the same API, with the wasm module read from disk and large
// certificates' signatures checked on worker threads where there are cores to spare.
import initWasm, { useVerifierWorkers } from './dist/vigil_wallet.js';
import { initOnce } from './load-node.js';

export { Wallet, VigilClient, CrossPacket, TrustedValidatorSet, transactionHash, verifyRowSignature } from './dist/vigil_wallet.js';

/**
 * `init()` loads the WebAssembly module (once); `source` may be bytes, a URL or a compiled module.
 * `verifierWorkers()` is how many verifier workers run (started at the first certificate
 * of 16 signatures or more; 0 where the platform has none to spare).
 */
export const { init, verifierWorkers } = initOnce(
  { init: initWasm, useVerifierWorkers },
  () => new URL('./dist/vigil_wallet_bg.wasm', import.meta.url),
  () => new URL('./verifier-node.js', import.meta.url),
);
