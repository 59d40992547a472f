// A fresh `npm install && npm start`: the dev server with an empty dependency cache. The first click on Start must
// train the run it asked for. Before optimizeDeps.entries named the worker, Vite found the worker's dependencies
// (ajv, ml-matrix) only when that click loaded it, re-optimised them and reloaded the page: the run was lost. The
// server is started here, on a free port and with a cache folder of its own (the one `npm start` uses stays
// untouched), since the rest of the suite runs against `vite preview` of the build.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect, test } from '@playwright/test';
import { createServer, type ViteDevServer } from 'vite';

const TRAINING_TIMEOUT = 120_000;

let server: ViteDevServer;
let cacheDir: string;

test.beforeAll(async () => {
  cacheDir = await mkdtemp(join(tmpdir(), 'sel-vite-cache-'));
  server = await createServer({ cacheDir, logLevel: 'warn', server: { host: '127.0.0.1', port: 0, strictPort: true, hmr: true } });
  await server.listen();
});

test.afterAll(async () => {
  await server?.close();
  if (cacheDir) await rm(cacheDir, { recursive: true, force: true });
});

test('on a fresh dev server the first click on Start trains, with no reload', async ({ page }) => {
  const url = server.resolvedUrls?.local[0];
  expect(url, 'the dev server has a URL').toBeTruthy();
  const pageErrors: string[] = [];
  page.on('pageerror', (e) => pageErrors.push(e.message));
  let loads = 0;
  page.on('load', () => loads++);
  await page.goto(`${url}#preset=quick-add&seed=1&steps=10&eval=5&window=3&snap=5`);
  await expect(page.getByTestId('adapter')).not.toContainText(/looking|none/, { timeout: 60_000 });
  // A mark in this document: a reload would take it away.
  await page.evaluate(() => ((window as unknown as { firstDocument: boolean }).firstDocument = true));
  const loadsBefore = loads;

  await page.getByTestId('start').click();
  await expect(page.getByTestId('run-phase')).toHaveAttribute('data-phase', 'finished', { timeout: TRAINING_TIMEOUT });
  await expect(page.getByTestId('run-step')).toHaveText('10');
  expect(await page.evaluate(() => (window as unknown as { firstDocument?: boolean }).firstDocument)).toBe(true);
  expect(loads).toBe(loadsBefore);
  expect(pageErrors).toEqual([]);
});
