// `init()` for one entry's wasm module in browsers and bundlers: loads it once.
// `wasmUrl(simd)` is a function so that nothing is looked up at import time; it is
// asked for the simd128 build where the engine has wasm SIMD (see `simd.js`).
import { hasSimd } from './simd.js';

export function initOnce(initWasm, wasmUrl) {
  let loading;
  return (source) => (loading ??= initWasm({ module_or_path: source ?? wasmUrl(hasSimd()) }));
}
