// The lesson without training, and runs side by side, in headless Chromium: the recorded demo (a run file the real
// engine wrote, shipped in public/) plays back through the same charts and the classroom walkthrough, marked as a
// recording, and ends with every key moment seen; then two short runs are trained, ticked in Saved runs and
// overlaid on the same charts, one line and legend entry per run, and the overlay exports as PNG and CSV.
// Screenshots go to test-results/.
import { expect, test, type Page } from '@playwright/test';
import { download, pngSize } from './helpers';

const TIMEOUT = 240_000;
const points = async (page: Page, chart: string) => Number(await page.getByTestId(`chart-${chart}`).getAttribute('data-points'));
const moment = (page: Page, kind: string) => page.getByTestId('moment-log').locator(`[data-moment="${kind}"]`);

test('the recorded demo plays back through the charts and the walkthrough, marked as a recording', async ({ page }) => {
  const pageErrors: string[] = [];
  page.on('pageerror', (e) => pageErrors.push(e.message));
  await page.setViewportSize({ width: 1440, height: 900 });
  await page.goto('/#classroom=on');
  await page.getByTestId('walkthrough-demo').click();
  const banner = page.getByTestId('recording-banner');
  await expect(banner).toContainText('Playing a recording');
  await expect(banner).toContainText('recorded by this lab’s engine on');
  await expect(page.getByTestId('run-phase')).toHaveAttribute('data-phase', 'playing');
  // It plays: the charts gain points over time, and the walkthrough follows the run past "It memorises".
  await expect.poll(() => points(page, 'accuracy'), { timeout: 20_000 }).toBeGreaterThan(0);
  const early = await points(page, 'accuracy');
  await expect.poll(() => points(page, 'accuracy'), { timeout: 20_000 }).toBeGreaterThan(early);
  await expect(moment(page, 'memorisation')).toHaveAttribute('data-state', 'seen', { timeout: 30_000 });
  await expect(page.getByTestId('walkthrough-step')).not.toHaveAttribute('data-step', /task|memorise/);
  await page.screenshot({ path: 'test-results/lesson-demo-playing.png' });
  await page.getByTestId('skip-playback').click();
  await expect(page.getByTestId('run-phase')).toHaveAttribute('data-phase', 'viewing');
  await expect(banner).toContainText('A recording');
  for (const kind of ['memorisation', 'grokking', 'decay-driven', 'edge-necessary']) await expect(moment(page, kind)).toHaveAttribute('data-state', 'seen');
  await expect(page.getByTestId('walkthrough-step')).toHaveAttribute('data-step', 'try');
  for (const id of ['g23', 'energy-v1']) await expect(page.getByTestId(`chart-${id}`).locator('.marker-decay-driven')).toHaveCount(1);
  await expect(page.getByTestId('chart-causal-ablation').locator('.marker-edge-necessary')).toHaveCount(1);
  await page.screenshot({ path: 'test-results/lesson-demo-end.png' });
  expect(pageErrors).toEqual([]);
});

test('two saved runs overlaid on the same charts, with a legend per run, and the overlay exported', async ({ page }) => {
  const pageErrors: string[] = [];
  page.on('pageerror', (e) => pageErrors.push(e.message));
  await page.setViewportSize({ width: 1440, height: 900 });
  for (const seed of [1, 2]) {
    await page.goto(`/#preset=quick-add&seed=${seed}&steps=20&eval=5&window=2&snap=5`);
    await page.reload();
    await expect(page.getByTestId('adapter')).not.toContainText(/looking|none/);
    await page.getByTestId('start').click();
    await expect(page.getByTestId('run-phase')).toHaveAttribute('data-phase', 'finished', { timeout: TIMEOUT });
  }
  const saved = page.getByTestId('saved-runs');
  await expect(saved.locator('li')).toHaveCount(2);
  const compare = page.getByTestId('compare-runs');
  await expect(compare).toBeDisabled();
  for (const seed of [1, 2]) await saved.getByLabel(new RegExp(`^Compare quick-add · seed ${seed} `)).check();
  await compare.click();
  const panel = page.getByTestId('compare-panel');
  await expect(panel.getByRole('heading', { name: 'Comparing 2 runs' })).toBeVisible();
  const accuracy = panel.getByTestId('chart-compare-test-accuracy');
  await expect(accuracy).toHaveAttribute('data-points', '4');
  await expect(accuracy.locator('svg text', { hasText: /^seed 1$/ })).toHaveCount(1);
  await expect(accuracy.locator('svg text', { hasText: /^seed 2$/ })).toHaveCount(1);
  await expect(panel.getByTestId('chart-compare-energy-v1')).toBeVisible();
  await panel.screenshot({ path: 'test-results/lesson-compare.png' });

  const card = panel.locator('[data-chart="compare-test-accuracy"]');
  await card.getByText('Export', { exact: true }).click();
  const png = await download(page, () => page.getByRole('button', { name: 'Export Test accuracy as PNG' }).click());
  expect(png.name).toBe('compare-2-runs-compare-test-accuracy.png');
  const figure = (await accuracy.boundingBox())!;
  expect(pngSize(png.bytes)).toEqual({ width: Math.round(figure.width) * 2, height: Math.round(figure.height) * 2 });
  await card.getByText('Export', { exact: true }).click();
  const csv = await download(page, () => page.getByRole('button', { name: 'Export Test accuracy as CSV' }).click());
  expect(csv.bytes.toString('utf8').split('\n')[0]).toBe('step,seed 1,seed 2');
  await panel.getByRole('button', { name: 'Close comparison' }).click();
  await expect(panel).toHaveCount(0);
  expect(pageErrors).toEqual([]);
});
