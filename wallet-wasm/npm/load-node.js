// `init()` for one entry in Node: reads its wasm module from disk once, and runs large
// certificates' signature checks on worker threads where there are cores to spare.
// `wasmUrl(simd)` is asked for the simd128 build where the engine has wasm SIMD (see
// `simd.js`); `verifierUrl` is the entry's verifier worker script.
import { hasSimd } from './simd.js';
import { loadOnce } from './load-module.js';
import { verifierPool, WORKERS_MAX } from './verifier-pool.js';

export function initOnce(glue, wasmUrl, verifierUrl) {
  const read = async () => (await import('node:fs/promises')).readFile(wasmUrl(hasSimd()));
  return loadOnce(glue, read, async (module) => {
    const os = await import('node:os');
    const cores = os.availableParallelism?.() ?? os.cpus().length;
    const count = Math.min(cores - 1, WORKERS_MAX);
    if (!(count >= 1)) return undefined;
    const { Worker } = await import('node:worker_threads');
    const spawn = () => {
      const worker = new Worker(verifierUrl());
      worker.unref();
      worker.postMessage({ module });
      return {
        post: (message, transfer) => worker.postMessage(message, transfer),
        listen(onMessage, onError) {
          worker.on('message', onMessage);
          worker.on('error', onError);
          worker.on('exit', (code) => onError(new Error(`a verifier worker exited (code ${code})`)));
        },
        hold: (busy) => (busy ? worker.ref() : worker.unref()),
        stop: () => void worker.terminate(),
      };
    };
    return verifierPool(spawn, count);
  });
}
