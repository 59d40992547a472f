import { defineConfig } from 'vitest/config';
import react from '@vitejs/plugin-react';
import { VitePWA } from 'vite-plugin-pwa';

export default defineConfig({
  plugins: [
    react(),
    // Offline once loaded (a classroom with poor Wi-Fi): the built page registers a service worker that precaches
    // every file of the build (page, training worker, styles, the recorded demo runs in public/) and serves them
    // when the network is gone. autoUpdate: a new build's worker takes over at once, without reloading a page (a
    // run in progress is never interrupted). Off in the dev server.
    VitePWA({
      registerType: 'autoUpdate',
      injectRegister: 'script-defer',
      manifest: false,
      workbox: {
        // Take over at once (the plugin sets these itself only when it chooses how to register).
        skipWaiting: true,
        clientsClaim: true,
        globPatterns: ['**/*.{html,js,css,svg,json}'],
        // The recorded demo runs are larger than Workbox's default 2 MiB cap: they must be cached too.
        maximumFileSizeToCacheInBytes: 16 * 1024 * 1024,
      },
    }),
  ],
  worker: { format: 'es' },
  // The dev server's dependency scan starts from index.html and does not follow `new Worker(new URL(...))`, so the
  // training worker's own dependencies (ajv, ml-matrix) were found only when the first Start loaded the worker:
  // Vite re-optimised and reloaded the page, and that first run was lost. Scanning the worker too finds them all
  // before the page loads.
  optimizeDeps: { entries: ['index.html', 'bench.html', 'src/worker/lab-worker.ts', 'src/worker/bench-worker.ts'] },
  // Two pages: the lab and the benchmark (bench.html: `npm run bench` in the visitor's browser).
  build: { target: 'es2022', rollupOptions: { input: { main: 'index.html', bench: 'bench.html' } } },
  test: {
    include: ['test/**/*.test.ts'],
    environment: 'node',
    // Every engine test shares one GPU device per file; SwiftShader is CPU-bound and the CI machine has
    // two cores, so files run one at a time to keep each test's wall time predictable.
    fileParallelism: false,
    // ...and in one process: the files share that device (test/helpers/gpu.ts), its compiled pipelines and the
    // grokked fixture, instead of compiling every kernel again for each file (seconds each on SwiftShader).
    isolate: false,
    testTimeout: 600_000,
    hookTimeout: 120_000,
  },
});
