// The security console: built to dist/console/, served by the admin listener under /console/.
// Hashed asset names; no inline script or style anywhere (CSP script-src/style-src 'self').
import { fileURLToPath } from 'node:url';
import preact from '@preact/preset-vite';
import { defineConfig } from 'vite';

const root = fileURLToPath(new URL('.', import.meta.url));

export default defineConfig({
  root,
  base: '/console/',
  plugins: [preact({ prerender: { enabled: false } })],
  build: {
    outDir: fileURLToPath(new URL('../dist/console-ui/', import.meta.url)),
    emptyOutDir: true,
    assetsDir: 'assets',
    // Inlined assets become data: URLs; keep everything a same-origin file.
    assetsInlineLimit: 0,
    modulePreload: { polyfill: false },
    sourcemap: false,
    target: 'es2022',
    reportCompressedSize: false,
  },
  server: {
    // Dev: forward the API to a local admin listener (ZTGATE_ADMIN_URL, default http://127.0.0.1:8081).
    proxy: Object.fromEntries(
      ['/v1', '/admin', '/metrics', '/console/api', '/console/login', '/console/logout'].map((path) => [
        path,
        { target: process.env.ZTGATE_ADMIN_URL ?? 'http://127.0.0.1:8081', changeOrigin: false },
      ]),
    ),
  },
});
