// Classroom mode end to end, in headless Chromium on SwiftShader: a link with classroom=on opens the projector
// layout (large type, the five key charts with captions, the walkthrough), the walkthrough is driven by keyboard
// and starts the classroom run (quick-dyck, snapshots every 50), its charts fill as it trains, and the walkthrough
// says where the run stands. The run is cut to 100 steps (a quick-dyck step with its 5,000 test sequences is slow on
// SwiftShader; its moments come from step 150 on), so once it ends the walkthrough must say plainly that they did
// not happen. The moments as they happen, called out on the charts and followed by the walkthrough, are tested on
// the recorded classroom run played in the page (e2e/lesson.spec.ts) and on the four recorded seeds
// (test/classroom-run.test.ts). Screenshots at projector sizes go to test-results/.
import { expect, test, type Page } from '@playwright/test';

const STEPS = 50;
const EVAL_EVERY = 25;
const TRAINING_TIMEOUT = 420_000;
const RUN = `preset=quick-dyck&seed=1&steps=${STEPS}&eval=${EVAL_EVERY}&window=2&snap=${EVAL_EVERY}`;
const LINK = `/#${RUN}&classroom=on`;
const CLASSROOM_CHARTS = ['loss', 'accuracy', 'g23', 'energy-v1', 'causal-ablation'];

const points = async (page: Page, chart: string) => Number(await page.getByTestId(`chart-${chart}`).getAttribute('data-points'));
const moment = (page: Page, kind: string) => page.getByTestId('moment-log').locator(`[data-moment="${kind}"]`);

test('classroom mode: the walkthrough starts the classroom run, its charts fill, and it says where the run stands', async ({ page }) => {
  const pageErrors: string[] = [];
  page.on('pageerror', (e) => pageErrors.push(e.message));
  await page.setViewportSize({ width: 1920, height: 1080 });
  await page.goto(LINK);
  await expect(page.getByTestId('adapter')).not.toContainText(/looking|none/);

  // The projector layout: large type, the five key charts (the live ablation among them) with their captions, no form.
  await expect(page.getByTestId('classroom-toggle')).toHaveAttribute('aria-pressed', 'true');
  await expect(page.locator('html')).toHaveClass(/classroom/);
  expect(await page.evaluate(() => parseFloat(getComputedStyle(document.documentElement).fontSize))).toBeGreaterThanOrEqual(20);
  await expect(page.locator('[data-chart]')).toHaveCount(CLASSROOM_CHARTS.length);
  for (const id of CLASSROOM_CHARTS) await expect(page.getByTestId(`chart-${id}`)).toBeVisible();
  await expect(page.locator('[data-chart="energy-v1"] .chart-description')).toContainText('Below 0.5: decay-driven');
  await expect(page.getByTestId('field-steps')).toHaveCount(0);
  await expect(page.getByText('Classroom mode on or off')).toBeAttached();

  // The walkthrough, by keyboard: Tab from the toggle reaches "Start the run"; the arrows move between steps.
  const walkthrough = page.getByTestId('walkthrough-step');
  await expect(walkthrough).toHaveAttribute('data-step', 'task');
  await expect(page.getByTestId('walkthrough-settings')).toHaveText(`This run: quick-dyck, seed 1, weight decay 1, ${STEPS} steps.`);
  await expect(page.getByTestId('walkthrough-back')).toHaveAttribute('aria-disabled', 'true');
  await page.keyboard.press('ArrowRight');
  await expect(walkthrough).toHaveAttribute('data-step', 'memorise');
  await page.keyboard.press('PageUp');
  await expect(walkthrough).toHaveAttribute('data-step', 'task');
  await page.getByTestId('classroom-toggle').focus();
  await page.keyboard.press('Tab');
  await expect(page.getByTestId('walkthrough-start')).toBeFocused();
  await expect(moment(page, 'memorisation')).toContainText('Not yet: start the run.');
  await page.keyboard.press('Enter');
  await expect(walkthrough).toHaveAttribute('data-step', 'memorise');
  await expect(walkthrough.getByRole('heading', { level: 3 })).toBeFocused();
  await expect(page.getByTestId('run-phase')).toHaveAttribute('data-phase', 'running', { timeout: TRAINING_TIMEOUT });

  // As it trains: the charts fill, and the walkthrough says what each moment waits for.
  await expect.poll(() => points(page, 'accuracy'), { timeout: TRAINING_TIMEOUT }).toBeGreaterThan(0);
  await expect(moment(page, 'memorisation')).toContainText(/Memorisation\. Not yet: train accuracy [\d.]+ at step (25|50) \(memorised at 0\.99\)\./);
  await expect(page.getByTestId('narration')).toContainText(/^Step (25|50)[^:]*: memorising, train accuracy/);
  await page.screenshot({ path: 'test-results/classroom-training.png' });

  // The run ends at step 50, before its moments: the walkthrough says so plainly, and marks nothing.
  await expect(page.getByTestId('run-phase')).toHaveAttribute('data-phase', 'finished', { timeout: TRAINING_TIMEOUT });
  await expect.poll(() => points(page, 'energy-v1')).toBe(1);
  for (const kind of ['memorisation', 'grokking', 'decay-driven']) {
    await expect(moment(page, kind)).toHaveAttribute('data-state', 'missed');
    await expect(moment(page, kind)).toContainText('It did not happen in this run');
  }
  await expect(page.locator('.marker-callout')).toHaveCount(0);
  await expect(walkthrough).toHaveAttribute('data-step', 'memorise');
  await page.getByTestId('walkthrough-next').click();
  await expect(walkthrough).toHaveAttribute('data-step', 'grok');
  await page.screenshot({ path: 'test-results/classroom-finished.png' });
  await page.setViewportSize({ width: 1280, height: 720 });
  await page.screenshot({ path: 'test-results/classroom-1280x720.png' });

  // C leaves classroom mode: the full lab, the same run, and the link without classroom=on.
  await page.locator('body').focus();
  await page.keyboard.press('c');
  await expect(page.getByTestId('classroom-toggle')).toHaveAttribute('aria-pressed', 'false');
  await expect(page.locator('html')).not.toHaveClass(/classroom/);
  await expect(page).toHaveURL(new RegExp(`#${RUN}$`));
  await expect(page.getByTestId('chart-norms')).toBeVisible();
  await expect.poll(() => points(page, 'loss')).toBe(STEPS / EVAL_EVERY);
  // The key moments are called out in classroom mode only; the full lab keeps its own grok marker.
  await expect(page.locator('.marker-callout')).toHaveCount(0);
  await page.screenshot({ path: 'test-results/classroom-off.png' });
  expect(pageErrors).toEqual([]);
});
