import { defineConfig } from '@playwright/test';

// E2E_PORT lets several checkouts run their e2e suites side by side on one machine.
const PORT = Number(process.env.E2E_PORT ?? 4173);

// Headless Chromium with WebGPU on a GPU-less Linux machine. Found by experiment with Debian's chromium 156:
// --enable-unsafe-webgpu is the one switch that matters: with it, Chromium's bundled SwiftShader Vulkan
// driver provides the adapter (vendor "google", architecture "swiftshader") and compute shaders run;
// without it requestAdapter() returns null ("No available adapters"). --enable-features=Vulkan,
// --use-vulkan=swiftshader, --use-webgpu-adapter=swiftshader, --use-angle=swiftshader and
// --disable-vulkan-surface changed nothing there, so they are left out; on a machine with a real GPU these
// flags let Chromium use it. --no-sandbox because CI runs as root; the rest keep the browser off the network.
const CHROMIUM_ARGS = [
  '--enable-unsafe-webgpu',
  '--no-sandbox',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
  '--disable-quic',
];

export default defineConfig({
  testDir: 'e2e',
  // SwiftShader trains on the CPU: a demo run takes minutes on a two-core CI machine.
  timeout: 8 * 60_000,
  expect: { timeout: 10_000 },
  workers: 1,
  fullyParallel: false,
  forbidOnly: !!process.env.CI,
  retries: 0,
  reporter: [['list']],
  outputDir: 'test-results',
  use: {
    baseURL: `http://127.0.0.1:${PORT}`,
    browserName: 'chromium',
    headless: true,
    // Playwright's own browsers are not installed (no network): use the distribution's chromium.
    launchOptions: { executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium', args: CHROMIUM_ARGS },
    trace: 'retain-on-failure',
  },
  webServer: {
    // The built app (`npm run test:e2e` builds it first), served as in production.
    command: `npx vite preview --host 127.0.0.1 --port ${PORT} --strictPort`,
    url: `http://127.0.0.1:${PORT}`,
    reuseExistingServer: !process.env.CI,
    timeout: 60_000,
  },
});
