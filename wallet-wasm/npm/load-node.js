// `init()` for one entry's wasm module in Node: reads it from disk, once.
export function initOnce(initWasm, wasmUrl) {
  let loading;
  return (source) =>
    (loading ??= (async () => {
      if (source !== undefined) return initWasm({ module_or_path: source });
      const { readFile } = await import('node:fs/promises');
      return initWasm({ module_or_path: await readFile(wasmUrl()) });
    })());
}
