// Classroom mode end to end, in headless Chromium on SwiftShader: a link with classroom=on opens the projector
// layout (large type, the five key charts with captions, the walkthrough), the walkthrough is driven by keyboard
// and starts the classroom run (quick-dyck, snapshots every 50), and memorisation and grokking are called out on the
// charts (labelled markers) and in the walkthrough as they happen, the walkthrough moving on with them. The run is
// cut to 250 steps (the edge turns decay-driven around step 400; the whole lesson on recorded runs is in
// test/classroom-run.test.ts and e2e/lesson.spec.ts), so once it ends the walkthrough must say plainly that the edge
// did not turn. Screenshots at projector sizes go to test-results/.
import { expect, test, type Page } from '@playwright/test';

const STEPS = 250;
const EVAL_EVERY = 50;
const TRAINING_TIMEOUT = 420_000;
const RUN = `preset=quick-dyck&seed=1&steps=${STEPS}&eval=${EVAL_EVERY}&window=3&snap=50`;
const LINK = `/#${RUN}&classroom=on`;
const CLASSROOM_CHARTS = ['loss', 'accuracy', 'g23', 'energy-v1', 'causal-ablation'];

const points = async (page: Page, chart: string) => Number(await page.getByTestId(`chart-${chart}`).getAttribute('data-points'));
const moment = (page: Page, kind: string) => page.getByTestId('moment-log').locator(`[data-moment="${kind}"]`);

test('classroom mode: the walkthrough starts the classroom run and calls out its moments on the charts as they happen', async ({ page }) => {
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

  // Memorisation, as it happens: a line in the walkthrough and a labelled marker on every chart.
  const memorised = moment(page, 'memorisation');
  await expect(memorised).toHaveAttribute('data-state', 'seen', { timeout: TRAINING_TIMEOUT });
  const text = (await memorised.textContent())!;
  const step = Number(/Memorised at step (\d+)/.exec(text)?.[1]);
  expect(step, text).toBeGreaterThan(0);
  expect(step % EVAL_EVERY).toBe(0);
  // The walkthrough has moved on from "It learns its 50 strings".
  await expect(walkthrough).not.toHaveAttribute('data-step', /task|memorise/);
  for (const id of ['loss', 'accuracy']) {
    // (Moments at one step share a badge: memorisation and grokking both come at step 150 here.)
    await expect(page.getByTestId(`chart-${id}`).locator('.marker-memorisation text')).toHaveText(new RegExp(`^memorised( · grokked)? @ ${step}$`));
  }
  // The spectral charts draw their markers once they have a record to draw.
  for (const id of ['g23', 'energy-v1']) {
    await expect.poll(() => points(page, id), { timeout: TRAINING_TIMEOUT }).toBeGreaterThan(0);
    await expect(page.getByTestId(`chart-${id}`).locator('.marker-memorisation')).toHaveCount(1);
  }
  await expect(page.getByTestId('narration')).toContainText(/memorised but not generalising yet|grokked/);
  await page.screenshot({ path: 'test-results/classroom-memorised.png' });

  // The run ends at step 250: it has generalised (quick-dyck's test accuracy passes 0.95 early), but its edge has
  // not turned decay-driven yet, and the walkthrough says so plainly.
  await expect(page.getByTestId('run-phase')).toHaveAttribute('data-phase', 'finished', { timeout: TRAINING_TIMEOUT });
  await expect(moment(page, 'grokking')).toHaveAttribute('data-state', 'seen');
  await expect(page.getByTestId('chart-accuracy').locator('.marker-grokking')).toHaveCount(1);
  const edge = moment(page, 'decay-driven');
  await expect(edge).toHaveAttribute('data-state', 'missed');
  await expect(edge).toContainText('It did not happen in this run');
  await expect(page.getByTestId('chart-energy-v1').locator('.marker-decay-driven')).toHaveCount(0);
  console.log(`classroom: memorised at step ${step}; ${(await moment(page, 'grokking').textContent())!.trim()}; edge: ${(await edge.textContent())!.trim()}`);
  await page.getByTestId('walkthrough-back').click();
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
