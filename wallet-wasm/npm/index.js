// vigil-wallet for browsers and bundlers: the wasm module is fetched next to this file
// (bundlers such as Vite and webpack understand `new URL(…, import.meta.url)`).
// Importing touches no global; `init()` loads the module once.
import initWasm from './dist/vigil_wallet.js';
import { initOnce } from './load-browser.js';

export { Wallet, VigilClient, CrossPacket, TrustedValidatorSet, transactionHash, verifyRowSignature } from './dist/vigil_wallet.js';

/** Loads the WebAssembly module (once). `source` may be a URL, a Response or bytes. */
export const init = initOnce(initWasm, () => new URL('./dist/vigil_wallet_bg.wasm', import.meta.url));
