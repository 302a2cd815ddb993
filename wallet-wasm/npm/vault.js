// vigil-wallet/vault for browsers and bundlers: the whole API plus the vault
// (`VigilClient.vaultUpload`, `vaultDownload`, `vaultList`, and `vaultPrepare`), in a
// second, larger build of the module; apps that never store files import `vigil-wallet`.
// It comes in two flavours with one JS glue: simd128 (the cipher and the erasure code
// about 1.3× as fast) where the engine has wasm SIMD, a baseline elsewhere.
import initWasm, { useVerifierWorkers } from './dist/vault/vigil_wallet.js';
import { initOnce } from './load-browser.js';

export { Wallet, VigilClient, CrossPacket, TrustedValidatorSet, transactionHash, verifyRowSignature, vaultPrepare } from './dist/vault/vigil_wallet.js';

/**
 * `init()` loads the WebAssembly module (once); `source` may be a URL, a Response, bytes or a compiled module.
 * `verifierWorkers()` is how many verifier workers run (started at the first certificate
 * of 16 signatures or more; 0 where the platform has none to spare).
 */
export const { init, verifierWorkers } = initOnce(
  { init: initWasm, useVerifierWorkers },
  (simd) => new URL(simd ? './dist/vault/vigil_wallet_simd_bg.wasm' : './dist/vault/vigil_wallet_bg.wasm', import.meta.url),
  () => new Worker(new URL('./verifier-vault.js', import.meta.url), { type: 'module', name: 'vigil-verifier' }),
);
