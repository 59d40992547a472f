// The live causal probes end to end, in headless Chromium on SwiftShader: a link switches them on (a small cadence
// and subset, so the short run probes several times), the "Causal, live" charts fill while quick-add trains, the
// curve-at-step scrubber moves the curve figure back to an earlier probe by keyboard and follows the latest again,
// a bad option gets its one-line message, and a live chart exports as a PNG of twice its on-screen size.
// Screenshots go to test-results/.
import { writeFile } from 'node:fs/promises';
import { expect, test, type Page } from '@playwright/test';
import { download, pngSize } from './helpers';

const STEPS = 80;
const TRAINING_TIMEOUT = 300_000;
// Windows of 3 snapshots 5 steps apart (the first at step 15); a probe every 20 steps on 32 sequences, 2 random pairs.
const LINK = `/#preset=quick-add&seed=1&steps=${STEPS}&eval=10&window=3&snap=5&causal=on&cevery=20&cseq=32&crandom=2`;
const PROBES = STEPS / 20;
const LIVE_CHARTS = ['causal-ablation', 'causal-kl', 'causal-dloss', 'causal-curvature'];

const points = async (page: Page, chart: string) => Number(await page.getByTestId(`chart-${chart}`).getAttribute('data-points'));

test('live causal probes: the charts fill while quick-add trains, the scrubber moves the curve, a chart exports at 2x', async ({ page }) => {
  const pageErrors: string[] = [];
  page.on('pageerror', (e) => pageErrors.push(e.message));
  await page.setViewportSize({ width: 1440, height: 1000 });
  await page.goto(LINK);
  await expect(page.getByTestId('adapter')).not.toContainText(/looking|none/);

  // The link's options are in the form, the blank one shows the engine's default; a bad value gets its message.
  await expect(page.getByTestId('field-causal')).toBeChecked();
  await expect(page.getByTestId('field-causalEvery')).toHaveValue('20');
  await expect(page.getByTestId('field-causalEps')).toHaveAttribute('placeholder', '0.005');
  await page.getByTestId('field-causalEvery').fill('12');
  await expect(page.getByText('must be a multiple of the snapshot interval (5 steps), got 12')).toBeVisible();
  await page.getByTestId('field-causalEvery').fill('20');
  await expect(page).toHaveURL(new RegExp(`${LINK.slice(2).replace(/[?]/g, '\\?')}$`));

  // Before the run: every live chart says what to do.
  const group = page.getByTestId('live-causal');
  await expect(group.getByRole('heading', { name: 'Causal, live' })).toBeVisible();
  for (const id of LIVE_CHARTS) await expect(page.getByTestId(`chart-${id}`)).toContainText('start a run with “Live causal probes” on');

  // The charts fill while the run trains: a second probe arrives before the run ends.
  await page.getByTestId('start').click();
  await expect(page.getByTestId('run-phase')).toHaveAttribute('data-phase', 'running', { timeout: TRAINING_TIMEOUT });
  await expect.poll(() => points(page, 'causal-ablation'), { timeout: TRAINING_TIMEOUT }).toBeGreaterThanOrEqual(2);
  const live = await page.getByTestId('run-phase').getAttribute('data-phase');
  console.log(`live causal: 2 probes drawn while the run was ${live}`);
  expect(live).toBe('running');
  await group.scrollIntoViewIfNeeded();
  await page.screenshot({ path: 'test-results/live-causal-running.png' });

  await expect(page.getByTestId('run-phase')).toHaveAttribute('data-phase', 'finished', { timeout: TRAINING_TIMEOUT });
  for (const id of LIVE_CHARTS) await expect.poll(() => points(page, id)).toBe(PROBES);
  // The verdict strip: one segment per probe, each naming its class.
  const strip = page.getByTestId('chart-causal-ablation').locator('.strip-segment');
  await expect(strip).toHaveCount(PROBES);
  expect(await strip.first().getAttribute('data-category')).toMatch(/^(functional|mixed|compression)$/);

  // The curve at a step follows the latest probe; the scrubber, by keyboard, goes back to the first and returns.
  const curve = page.getByTestId('causal-curve');
  const scrubber = page.getByTestId('causal-scrubber');
  await expect(curve).toHaveAttribute('data-step', String(STEPS));
  await expect(curve).toHaveAttribute('data-following', 'true');
  const figure = page.getByTestId('chart-causal-curve-kl');
  await expect.poll(() => points(page, 'causal-curve-kl')).toBe(5);
  const latestLabel = await figure.getAttribute('aria-label');
  await scrubber.focus();
  await page.keyboard.press('Home');
  await expect(curve).toHaveAttribute('data-step', '20');
  await expect(curve).toHaveAttribute('data-following', 'false');
  await expect(scrubber).toHaveAttribute('aria-valuetext', `probe 1 of ${PROBES}, step 20`);
  await expect.poll(() => figure.getAttribute('aria-label')).not.toBe(latestLabel);
  await page.keyboard.press('ArrowRight');
  await expect(curve).toHaveAttribute('data-step', '40');
  await page.getByTestId('causal-curve-measure').selectOption('deltaAccuracy');
  await expect.poll(() => points(page, 'causal-curve-acc')).toBe(5);
  await expect(curve).toHaveAttribute('data-step', '40');
  await curve.scrollIntoViewIfNeeded();
  await page.screenshot({ path: 'test-results/live-causal-scrubbed.png' });
  await page.getByTestId('causal-scrubber-latest').click();
  await expect(curve).toHaveAttribute('data-step', String(STEPS));
  await expect(curve).toHaveAttribute('data-following', 'true');

  // A live chart exports as a real PNG at twice its on-screen size.
  const box = (await page.getByTestId('chart-causal-ablation').boundingBox())!;
  const card = page.locator('[data-chart="causal-ablation"]');
  await card.getByText('Export', { exact: true }).click();
  const png = await download(page, () => page.getByRole('button', { name: 'Export Ablation over training as PNG' }).click());
  expect(png.name).toMatch(/^quick-add-seed1-step80-causal-ablation\.png$/);
  expect(pngSize(png.bytes)).toEqual({ width: Math.round(box.width) * 2, height: Math.round(box.height) * 2 });
  await writeFile('test-results/live-causal-ablation-export.png', png.bytes);
  await group.screenshot({ path: 'test-results/live-causal-group.png' });
  expect(pageErrors).toEqual([]);
});
