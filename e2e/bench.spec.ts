// The bench page (bench.html): the benchmark of `npm run bench` in the browser, on SwiftShader here: quick-add only,
// two steps per measurement, no grok (unticked by default on a software adapter); a number appears in the table,
// and "Copy results" puts the CLI's JSON on the clipboard. The lab links to it from its footer.
import { expect, test } from '@playwright/test';

test('runs the quick-add benchmark and copies its JSON', async ({ page, context }) => {
  await context.grantPermissions(['clipboard-read', 'clipboard-write']);
  await page.goto('/bench.html');
  await expect(page.getByText(/^Adapter:/)).toBeVisible({ timeout: 30_000 });
  for (const name of ['quick-dyck', 'quick-scan', 'quick-multitask']) await page.getByLabel(name, { exact: true }).uncheck();
  // A software adapter: the runs to the grok are offered, not ticked.
  await expect(page.getByLabel('time to grok')).not.toBeChecked();
  await page.getByLabel('steps per measurement').fill('2');
  await page.getByRole('button', { name: 'Run benchmark' }).click();
  const ms = page.locator('tr[data-preset="quick-add"] [data-testid="ms-per-step"]');
  await expect(ms).toHaveText(/^[\d,.]+$/, { timeout: 240_000 });
  expect(Number((await ms.textContent())!.replace(/,/g, ''))).toBeGreaterThan(0);
  await page.screenshot({ path: 'test-results/bench-page.png', fullPage: true });

  await page.getByRole('button', { name: 'Copy results' }).click();
  await expect(page.getByText('Copied the results as JSON.')).toBeVisible();
  const report = JSON.parse(await page.evaluate(() => navigator.clipboard.readText()));
  expect(Object.keys(report)).toEqual(['kind', 'date', 'adapter', 'runtime', 'results']);
  expect(report.kind).toBe('spectral-edge-lab-bench');
  expect(report.results).toHaveLength(1);
  const [r] = report.results;
  expect(r).toMatchObject({ preset: 'quick-add', stepsTimed: 2, stepsPerSubmissionTimed: 2, largestSubmission: 20, stepsPerSubmission: 20, readbacksPerStep: 0 });
  for (const key of ['dispatchesPerStep', 'msPerStep', 'msPerStepK1', 'stepsPerSecond', 'gflopPerStep', 'stepGflops']) expect(r[key], key).toBeGreaterThan(0);
  expect(r).toHaveProperty('gpuIdleMsPerStep');
  expect(r.grok).toBeUndefined();
});

test('the lab links to the bench page', async ({ page }) => {
  await page.goto('/');
  await expect(page.getByRole('link', { name: 'Benchmark your GPU' })).toHaveAttribute('href', './bench.html');
});
