// vigil-wallet/vault for browsers and bundlers: the whole API plus the vault
// (`VigilClient.vaultUpload`, `vaultDownload`, `vaultList`, and `vaultPrepare`), in a
// second, larger build of the module; apps that never store files import `vigil-wallet`.
// The wasm module is fetched next to this file (bundlers such as Vite and webpack
// understand `new URL(…, import.meta.url)`).
// Importing touches no global; `init()` loads the module once.
import initWasm from './dist/vault/vigil_wallet.js';

export { Wallet, VigilClient, TrustedValidatorSet, transactionHash, vaultPrepare } from './dist/vault/vigil_wallet.js';

let loading;

/** Loads the WebAssembly module (once). `source` may be a URL, a Response or bytes. */
export function init(source) {
  if (!loading) {
    loading = initWasm({ module_or_path: source ?? new URL('./dist/vault/vigil_wallet_bg.wasm', import.meta.url) });
  }
  return loading;
}
