// vigil-wallet for Node: the same API, with the wasm module read from disk.
import initWasm from './dist/vigil_wallet.js';
import { initOnce } from './load-node.js';

export { Wallet, VigilClient, CrossPacket, TrustedValidatorSet, transactionHash, verifyRowSignature } from './dist/vigil_wallet.js';

/** Loads the WebAssembly module (once). `source` may be bytes or a URL. */
export const init = initOnce(initWasm, () => new URL('./dist/vigil_wallet_bg.wasm', import.meta.url));
