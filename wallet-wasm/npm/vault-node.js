// vigil-wallet/vault for Node (see vault.js): the same API, with the wasm module read from disk.
import initWasm from './dist/vault/vigil_wallet.js';
import { initOnce } from './load-node.js';

export { Wallet, VigilClient, CrossPacket, TrustedValidatorSet, transactionHash, verifyRowSignature, vaultPrepare } from './dist/vault/vigil_wallet.js';

/** Loads the WebAssembly module (once). `source` may be bytes or a URL. */
export const init = initOnce(initWasm, (simd) =>
  new URL(simd ? './dist/vault/vigil_wallet_simd_bg.wasm' : './dist/vault/vigil_wallet_bg.wasm', import.meta.url));
