// The entry's wasm module, compiled here rather than by the glue so that the verifier
// workers can be given the same module. `source` is what `init(source)` accepts: a
// compiled module, bytes, a Response, or a URL or path to fetch.
export async function compileModule(source) {
  source = await source;
  if (source instanceof WebAssembly.Module) return source;
  if (source instanceof ArrayBuffer || ArrayBuffer.isView(source)) return WebAssembly.compile(source);
  const response = typeof Response === 'function' && source instanceof Response ? source : await fetch(source);
  if (!response.ok) throw new Error(`loading the wallet's wasm module: HTTP ${response.status} from ${response.url}`);
  const wasmType = (response.headers.get('Content-Type') ?? '').split(';')[0].trim() === 'application/wasm';
  // Streaming compilation needs the right media type; without it, read the bytes first.
  return wasmType ? WebAssembly.compileStreaming(response) : WebAssembly.compile(await response.arrayBuffer());
}

/**
 * An entry's `init` and `verifierWorkers`: `init` compiles the module once, instantiates
 * the glue on it and, where the platform has workers to spare, installs the verifier
 * pool that `workers(module)` makes (or nothing).
 */
export function loadOnce(glue, moduleSource, workers) {
  let loading;
  let pool;
  const load = async (source) => {
    const module = await compileModule(source ?? (await moduleSource()));
    const exports = await glue.init({ module_or_path: module });
    pool = await workers(module);
    if (pool) glue.useVerifierWorkers(pool.verify, pool.count);
    return exports;
  };
  // A load that failed (the network, say) is not kept: the next `init()` tries again.
  const init = (source) =>
    (loading ??= load(source).catch((error) => {
      loading = undefined;
      throw error;
    }));
  return { init, verifierWorkers: () => pool?.running() ?? 0 };
}
