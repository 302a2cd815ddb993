// `init()` for one entry in browsers and bundlers: loads its wasm module once, and runs
// large certificates' signature checks on Web Workers where there are cores to spare.
// `wasmUrl(simd)` is a function so that nothing is looked up at import time; it is
// asked for the simd128 build where the engine has wasm SIMD (see `simd.js`).
// `newVerifier()` creates one verifier worker (written in the entry as
// `new Worker(new URL(…, import.meta.url), { type: 'module' })`, which bundlers follow).
import { hasSimd } from './simd.js';
import { loadOnce } from './load-module.js';
import { verifierPool, WORKERS_MAX } from './verifier-pool.js';

export function initOnce(glue, wasmUrl, newVerifier) {
  return loadOnce(glue, () => wasmUrl(hasSimd()), (module) => {
    const count = Math.min((globalThis.navigator?.hardwareConcurrency ?? 1) - 1, WORKERS_MAX);
    if (typeof Worker !== 'function' || !(count >= 1)) return undefined;
    const spawn = () => {
      const worker = newVerifier();
      worker.postMessage({ module });
      return {
        post: (message, transfer) => worker.postMessage(message, transfer),
        listen(onMessage, onError) {
          worker.onmessage = (event) => onMessage(event.data);
          worker.onerror = worker.onmessageerror = (event) => {
            event.preventDefault?.();
            onError(new Error(`a verifier worker failed: ${event.message ?? 'no message'}`));
          };
        },
        hold() {},
        stop: () => worker.terminate(),
      };
    };
    return verifierPool(spawn, count);
  });
}
