// `init()` for one entry's wasm module in browsers and bundlers: loads it once.
// `wasmUrl` is a function so that nothing is looked up at import time.
export function initOnce(initWasm, wasmUrl) {
  let loading;
  return (source) => (loading ??= initWasm({ module_or_path: source ?? wasmUrl() }));
}
