import { defineConfig } from 'vitest/config';
import react from '@vitejs/plugin-react';

export default defineConfig({
  plugins: [react()],
  worker: { format: 'es' },
  // The dev server's dependency scan starts from index.html and does not follow `new Worker(new URL(...))`, so the
  // training worker's own dependencies (ajv, ml-matrix) were found only when the first Start loaded the worker:
  // Vite re-optimised and reloaded the page, and that first run was lost. Scanning the worker too finds them all
  // before the page loads.
  optimizeDeps: { entries: ['index.html', 'src/worker/lab-worker.ts'] },
  build: { target: 'es2022' },
  test: {
    include: ['test/**/*.test.ts'],
    environment: 'node',
    // Every engine test shares one GPU device per file; SwiftShader is CPU-bound and the CI machine has
    // two cores, so files run one at a time to keep each test's wall time predictable.
    fileParallelism: false,
    testTimeout: 600_000,
    hookTimeout: 120_000,
  },
});
