// Offline once loaded: the built page's service worker (vite-plugin-pwa, Workbox) precaches the page, the training
// worker and the styles. With the network cut the page reloads from that cache, finds the GPU and trains a short run.
import { expect, test } from '@playwright/test';

const LINK = '/#preset=quick-add&seed=1&steps=10&eval=5&window=3&snap=5';

test.setTimeout(180_000);

test('once loaded, the page reloads and trains with the network cut', async ({ page, context }) => {
  const pageErrors: string[] = [];
  page.on('pageerror', (e) => pageErrors.push(e.message));
  await page.goto(LINK);
  await expect(page.getByTestId('adapter')).not.toContainText(/looking|none/);
  // The service worker has installed (precached the build) and controls the page.
  await page.waitForFunction(() => navigator.serviceWorker.controller !== null, null, { timeout: 30_000 });

  await context.setOffline(true);
  expect(await page.evaluate(() => fetch('/favicon.svg?uncached').then(() => 'online', () => 'offline')), 'the network is cut').toBe('offline');
  await page.reload();
  await expect(page.getByRole('heading', { level: 1 })).toHaveText('Spectral Edge Lab');
  await expect(page.getByTestId('adapter')).not.toContainText(/looking|none/);
  await expect(page.getByTestId('field-steps')).toHaveValue('10');
  await page.getByTestId('start').click();
  await expect(page.getByTestId('run-phase')).toHaveAttribute('data-phase', 'finished', { timeout: 120_000 });
  await expect(page.getByTestId('run-step')).toHaveText('10');
  await expect.poll(async () => Number(await page.getByTestId('chart-loss').getAttribute('data-points'))).toBe(2);
  expect(pageErrors).toEqual([]);
});
