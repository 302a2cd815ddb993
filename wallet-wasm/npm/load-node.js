// `init()` for one entry's wasm module in Node: reads it from disk, once. `wasmUrl(simd)`
// is asked for the simd128 build where the engine has wasm SIMD (see `simd.js`).
import { hasSimd } from './simd.js';

export function initOnce(initWasm, wasmUrl) {
  let loading;
  return (source) =>
    (loading ??= (async () => {
      if (source !== undefined) return initWasm({ module_or_path: source });
      const { readFile } = await import('node:fs/promises');
      return initWasm({ module_or_path: await readFile(wasmUrl(hasSimd())) });
    })());
}
