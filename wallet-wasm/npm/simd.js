// Whether this engine runs wasm SIMD (`simd128`): it validates a module of one function
// that uses two SIMD instructions (`i8x16.splat`, `i8x16.popcnt`), the probe of the
// `wasm-feature-detect` package. Engines without it get the baseline build.
const PROBE = new Uint8Array([
  0, 97, 115, 109, 1, 0, 0, 0, 1, 5, 1, 96, 0, 1, 123, 3, 2, 1, 0, 10, 10, 1, 8, 0, 65, 0, 253, 15, 253, 98, 11,
]);

let simd;
export function hasSimd() {
  if (simd === undefined) {
    try {
      simd = typeof WebAssembly === 'object' && WebAssembly.validate(PROBE);
    } catch {
      simd = false;
    }
  }
  return simd;
}
