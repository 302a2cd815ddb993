// Starts the web wallet: loads the wasm module (the Yew app renders into #app).
import init from './vigil_web.js';

init().catch((e) => {
  const app = document.getElementById('app');
  app.textContent = `The wallet could not start: ${e}. Reload the page; if it keeps failing, your browser may not support WebAssembly.`;
  app.setAttribute('role', 'alert');
});
