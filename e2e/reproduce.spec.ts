// The Reproduce panel in headless Chromium on SwiftShader: folded by default; opened, it shows the chosen study's
// units, a time estimate and its report's tables with every row unmeasured; an abbreviated run (a smoke test: every
// unit a few steps) of quick modes-modarith runs in the worker, its first unit fills rows in, Cancel stops it with
// the finished unit kept, and report.md (marked as a smoke test) and a figure export; axe finds no serious violation.
// The finished units are kept in the browser: after a reload the same study offers Continue with them restored, and
// Discard drops them. Screenshots in test-results/.
import { expect, test } from '@playwright/test';
import { expectNoSeriousViolations } from './a11y';
import { download } from './helpers';

const TIMEOUT = 240_000;

test('reproduce: an abbreviated quick study fills its table unit by unit, cancels, and exports its report', async ({ page }) => {
  const pageErrors: string[] = [];
  page.on('pageerror', (e) => pageErrors.push(e.message));
  await page.setViewportSize({ width: 1440, height: 1000 });
  await page.goto('/');
  await expect(page.getByTestId('adapter')).not.toContainText(/looking|none/);

  const panel = page.getByTestId('reproduce');
  await expect(panel).not.toHaveAttribute('open');
  await panel.locator('summary').click();
  await expect(panel.getByLabel('Study')).toHaveValue('modes-modarith');
  await expect(page.getByTestId('reproduce-plan')).toContainText('modes-modarith (quick): 3 units, 3,600 training steps');
  await panel.getByLabel(/Abbreviated run/).check();
  await expect(page.getByTestId('reproduce-plan')).toContainText('3 units, 36 training steps');
  await expect(page.getByTestId('reproduce-plan')).toContainText('Every unit shortened to 12 steps: a smoke test, not a reproduction.');
  const rows = panel.locator('.reproduce-table tbody tr');
  expect(await rows.count()).toBeGreaterThan(5);
  await expect(panel.locator('tr[data-measured="yes"]')).toHaveCount(0);

  await panel.getByRole('button', { name: 'Run' }).click();
  await expect(page.getByTestId('reproduce-progress')).toContainText(/Unit 1 of 3/);
  // The first unit (add, wd 1) fills the rows it measures: the share of runs that grok, its functional modes.
  await expect(panel.locator('tr[data-measured="yes"]').first()).toBeVisible({ timeout: TIMEOUT });
  await expect(page.getByTestId('reproduce-plan')).toContainText('1 finished');
  await expect(panel.getByRole('row', { name: /share of runs that grok, wd 1/ })).toContainText('0 (n 1)');
  await panel.getByRole('button', { name: 'Cancel' }).click();
  // The second unit (12 steps, no analyses) may have finished before the click reached the worker.
  const stopped = panel.getByText(/^Stopped: \d units? kept; Continue runs the rest\.$/);
  await expect(stopped).toBeVisible({ timeout: TIMEOUT });
  const kept = Number(/\d/.exec((await stopped.textContent()) ?? '')![0]);
  expect([1, 2]).toContain(kept);
  await expect(panel.getByRole('button', { name: 'Continue' })).toBeEnabled();
  await page.screenshot({ path: 'test-results/reproduce.png', clip: (await panel.boundingBox()) ?? undefined });
  await expectNoSeriousViolations(page, 'the reproduce panel with a stopped study');

  const md = await download(page, () => panel.getByRole('button', { name: 'Export report.md' }).click());
  expect(md.name).toBe('reproduce-modes-modarith-quick-abbreviated-report.md');
  const text = md.bytes.toString('utf8');
  expect(text).toContain('# Reproduction: modes-modarith (quick)');
  expect(text).toContain('**Every unit was shortened to 12 steps: a smoke test of the machinery, not a reproduction.**');
  expect(text).toContain(kept === 1 ? 'Units: 1 of 3 finished (missing: s42-opadd-wd0, s42-opmul-wd1).' : 'Units: 2 of 3 finished (missing: s42-opmul-wd1).');
  const figure = await download(page, () => panel.getByRole('button', { name: 'Export test-accuracy.svg' }).click());
  expect(figure.bytes.toString('utf8')).toMatch(/^<svg xmlns="http:\/\/www.w3.org\/2000\/svg" width="640" height="360"/);

  // Closing the page loses nothing: reopened, the same study and settings come back with the units finished.
  const measured = await panel.locator('tr[data-measured="yes"]').count();
  await page.reload();
  await expect(page.getByTestId('adapter')).not.toContainText(/looking|none/);
  await panel.locator('summary').click();
  await panel.getByLabel(/Abbreviated run/).check();
  await expect(page.getByTestId('reproduce-plan')).toContainText(`${kept} finished (${kept} kept in this browser from an earlier visit).`);
  await expect(panel.locator('tr[data-measured="yes"]')).toHaveCount(measured);
  await expect(panel.getByRole('button', { name: 'Continue' })).toBeEnabled();
  await panel.screenshot({ path: 'test-results/reproduce-restored.png' });
  await panel.getByRole('button', { name: 'Discard finished units' }).click();
  await expect(page.getByTestId('reproduce-plan')).toContainText('0 finished.');
  await expect(panel.locator('tr[data-measured="yes"]')).toHaveCount(0);
  await expect(panel.getByRole('button', { name: 'Run' })).toBeEnabled();
  await expect(panel.getByRole('button', { name: 'Discard finished units' })).toBeDisabled();
  expect(pageErrors).toEqual([]);
});
