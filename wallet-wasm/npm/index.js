// vigil-wallet for browsers and bundlers: the wasm module is fetched next to this file
// (bundlers such as Vite and webpack understand `new URL(…, import.meta.url)`, and
// `new Worker(new URL(…))` for the verifier workers). Importing touches no global;
// `init()` loads the module once.
import initWasm, { useVerifierWorkers } from './dist/vigil_wallet.js';
import { initOnce } from './load-browser.js';

export { Wallet, VigilClient, CrossPacket, TrustedValidatorSet, transactionHash, verifyRowSignature } from './dist/vigil_wallet.js';

/**
 * `init()` loads the WebAssembly module (once); `source` may be a URL, a Response, bytes or a compiled module.
 * `verifierWorkers()` is how many verifier workers run (started at the first certificate
 * of 16 signatures or more; 0 where the platform has none to spare).
 */
export const { init, verifierWorkers } = initOnce(
  { init: initWasm, useVerifierWorkers },
  () => new URL('./dist/vigil_wallet_bg.wasm', import.meta.url),
  () => new Worker(new URL('./verifier.js', import.meta.url), { type: 'module', name: 'vigil-verifier' }),
);
