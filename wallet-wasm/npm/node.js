// vigil-wallet for Node: the same API, with the wasm module read from disk.
import initWasm from './dist/vigil_wallet.js';

export { Wallet, VigilClient, TrustedValidatorSet, transactionHash } from './dist/vigil_wallet.js';

let loading;

/** Loads the WebAssembly module (once). `source` may be bytes or a URL. */
export function init(source) {
  if (!loading) {
    loading = (async () => {
      if (source !== undefined) return initWasm({ module_or_path: source });
      const { readFile } = await import('node:fs/promises');
      return initWasm({ module_or_path: await readFile(new URL('./dist/vigil_wallet_bg.wasm', import.meta.url)) });
    })();
  }
  return loading;
}
