// vigil-wallet/vault for Node (see vault.js): the same API, with the wasm module read from disk.
import initWasm, { useVerifierWorkers } from './dist/vault/vigil_wallet.js';
import { initOnce } from './load-node.js';

export { Wallet, VigilClient, CrossPacket, TrustedValidatorSet, transactionHash, verifyRowSignature, vaultPrepare } from './dist/vault/vigil_wallet.js';

/**
 * `init()` loads the WebAssembly module (once); `source` may be bytes, a URL or a compiled module.
 * `verifierWorkers()` is how many verifier workers run (started at the first certificate
 * of 16 signatures or more; 0 where the platform has none to spare).
 */
export const { init, verifierWorkers } = initOnce(
  { init: initWasm, useVerifierWorkers },
  (simd) => new URL(simd ? './dist/vault/vigil_wallet_simd_bg.wasm' : './dist/vault/vigil_wallet_bg.wasm', import.meta.url),
  () => new URL('./verifier-vault-node.js', import.meta.url),
);
