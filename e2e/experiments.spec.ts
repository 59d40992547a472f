// The causal experiments in the page, in headless Chromium on SwiftShader: a short quick-add run finishes, the
// Run button explains itself until there is a spectral window, the probes (which cannot run on modular arithmetic)
// are unticked and disabled, the branch length gets a time estimate, the worker runs the sweep, the ablation, the
// curvature, the functional modes and the verdict on the finished model with progress on the page (one line per
// experiment; the cards say what they wait for), every card fills in and its figures stay readable, a figure
// exports as a PNG of twice its size and as SVG, the analysis exports as an analysis file, the run's export and a
// reload keep it (the worker validates the analyses of every run it opens against their schema), the finished run
// reopened from Saved runs takes new experiments, and Cancel stops a weight-decay intervention. Screenshots go to
// test-results/.
import { expect, test } from '@playwright/test';
import { expectNoSeriousViolations } from './a11y';
import { download, pngSize } from './helpers';
import { parseRunFile } from '../src/train/run';

/** quick-add, 30 steps, the window of 3 snapshots every 5 steps full at step 15. */
const LINK = '/#preset=quick-add&seed=3&steps=30&eval=10&window=3&snap=5';
const TIMEOUT = 300_000;

test('runs the causal experiments on a finished run, shows and exports them, and keeps them in the run', async ({ page }) => {
  const pageErrors: string[] = [];
  page.on('pageerror', (e) => pageErrors.push(e.message));
  await page.setViewportSize({ width: 1440, height: 900 });
  await page.goto(LINK);
  await expect(page.getByTestId('adapter')).not.toContainText(/looking|none/);
  const run = page.getByRole('button', { name: 'Run experiments' });
  await expect(run).toBeDisabled();
  await expect(run).toHaveAccessibleDescription(/^Start a run, or open a saved one/);

  await page.getByTestId('start').click();
  await expect(page.getByTestId('run-phase')).toHaveAttribute('data-phase', 'finished', { timeout: TIMEOUT });
  await expect(run).toBeEnabled();

  // The default selection: the probes, which do not apply to modular arithmetic, unticked and disabled with the reason.
  const choices = page.locator('.experiment-choices');
  await expect(choices.getByLabel(/Weight-decay intervention/)).not.toBeChecked();
  await expect(choices.getByLabel(/^Probes/)).not.toBeChecked();
  await expect(choices.getByLabel(/^Probes/)).toBeDisabled();
  await expect(choices.getByLabel(/^Probes/)).toHaveAccessibleDescription(/no probe target/);
  await choices.getByLabel(/^Weight-decay intervention/).check();
  await expect(page.getByTestId('intervention-estimate')).toHaveText(/^4 branches × 1,000 steps = 4,000 training steps: about \d+ (s|min|h) at the [\d.]+ steps\/s this run trained at\.$/);
  await page.getByLabel('Steps per weight-decay branch').fill('two');
  await expect(page.getByText('must be a whole number of steps, got "two"')).toBeVisible();
  await expect(run).toHaveAccessibleDescription('Fix the weight-decay intervention’s number of steps.');
  await choices.getByLabel(/^Weight-decay intervention/).uncheck();
  await run.click();
  const progress = page.getByTestId('experiment-progress');
  await expect(progress).toContainText('Running on the model at step 30');
  await expect(progress.locator('li.running')).toHaveCount(1, { timeout: TIMEOUT });
  // One line per experiment, each with its state; the cards it will fill say so, not "not computed yet".
  const tops = await progress.locator('li').evaluateAll((items) => items.map((li) => li.getBoundingClientRect().top));
  expect(tops.length).toBe(5);
  for (let i = 1; i < tops.length; i++) expect(tops[i]).toBeGreaterThan(tops[i - 1]);
  await expect(progress.locator('li.running')).toContainText('(running)');
  await expect(page.getByTestId('experiment-verdict')).toHaveAttribute('data-state', 'pending');
  await expect(page.getByTestId('experiment-verdict')).toContainText('Waiting: runs after');
  await expect(page.getByTestId('experiment-verdict')).not.toContainText('Not computed yet');
  await page.screenshot({ path: 'test-results/experiments-running.png' });
  await expect(progress).toHaveCount(0, { timeout: TIMEOUT });

  for (const name of ['verdict', 'perturb', 'ablate', 'curvature', 'fourier']) {
    await expect(page.getByTestId(`experiment-${name}`)).toHaveAttribute('data-state', 'done');
  }
  await expect(page.getByTestId('experiment-probe')).toHaveAttribute('data-state', 'empty');
  // The verdict's table backs its sentence: every sign it names has a passing row.
  const signs = page.getByTestId('verdict-signs');
  await expect(signs.locator('li')).toHaveCount(4);
  // Readable figures: the curvature bars keep a visible length whatever the top eigenvalue, the colour bar's title
  // clears its tick labels.
  const bars = await page.getByTestId('figure-curvature').locator('rect.bar').evaluateAll((rects) => rects.map((r) => r.getBoundingClientRect().width));
  expect(Math.max(...bars)).toBeGreaterThan(20);
  const heatmap = page.getByTestId('figure-modes-2d');
  const title = (await heatmap.locator('text.colorbar-title').boundingBox())!;
  for (const tick of await heatmap.locator('text.colorbar-tick').all()) {
    const box = (await tick.boundingBox())!;
    expect(box.x + box.width, (await tick.textContent()) ?? undefined).toBeLessThanOrEqual(title.x);
  }
  await expect(page.getByTestId('experiment-wd-intervention')).toContainText('Not computed yet');
  await expect(page.getByTestId('verdict-class')).toContainText(/functional|mixed|compression/);
  await expect(page.getByTestId('ablation-ratio')).toContainText('Edge/random ratio');
  // The figures are drawn: curves and a band, bars and random dots, the 2-D spectrum's cells.
  await expect(page.getByTestId('figure-perturbation-kl').locator('path.series')).toHaveCount(3);
  await expect(page.getByTestId('figure-perturbation-kl').locator('path.band')).toHaveCount(1);
  await expect(page.getByTestId('figure-ablation').locator('rect.bar-edge')).toHaveCount(1);
  await expect(page.getByTestId('figure-ablation').locator('.dots circle')).toHaveCount(20);
  await expect(page.getByTestId('figure-modes-2d').locator('.cells rect')).toHaveCount(31 * 31);
  await page.getByTestId('experiment-perturb').getByLabel('Show').selectOption('accuracy');
  await expect(page.getByTestId('figure-perturbation-accuracy').locator('path.series')).toHaveCount(3);
  await page.getByTestId('chart-stable-rank').scrollIntoViewIfNeeded();
  await page.screenshot({ path: 'test-results/experiments-done.png', fullPage: true });
  await page.locator('.experiment-grid').screenshot({ path: 'test-results/experiments-cards.png' });
  await expectNoSeriousViolations(page, 'the experiment cards');

  // Exports: the ablation figure as PNG (twice its size) and SVG, the analysis as a valid analysis file.
  const figure = page.getByTestId('figure-ablation');
  const size = { width: Number(await figure.getAttribute('data-width')), height: Number(await figure.getAttribute('data-height')) };
  const card = page.locator('[data-figure="ablation"]');
  await card.getByText('Export', { exact: true }).click();
  const png = await download(page, () => page.getByRole('button', { name: 'Export Ablation: Δ test accuracy as PNG' }).click());
  expect(png.name).toBe('quick-add-seed3-step30-ablation.png');
  expect(pngSize(png.bytes)).toEqual({ width: size.width * 2, height: size.height * 2 });
  await card.getByText('Export', { exact: true }).click();
  const svg = await download(page, () => page.getByRole('button', { name: 'Export Ablation: Δ test accuracy as SVG' }).click());
  expect(svg.bytes.toString('utf8')).toMatch(/^<\?xml[^]*<svg[^]*<title>Ablation: Δ test accuracy<\/title>[^]*class="bar bar-edge"/);
  const exported = await download(page, () => page.getByRole('button', { name: 'Export analysis (JSON)' }).click());
  expect(exported.name).toBe('quick-add-seed3-step30.analysis.json');
  const analysis = JSON.parse(exported.bytes.toString('utf8'));
  expect(analysis).toMatchObject({ kind: 'spectral-edge-lab.analysis', version: 1, run: { preset: 'quick-add', seed: 3 } });
  expect(analysis.at).toMatchObject({ step: 30, windowStep: 30 });
  expect(Object.keys(analysis.experiments).sort()).toEqual(['ablate', 'curvature', 'fourier', 'perturb', 'verdict']);

  // The run's export holds the analysis, and a reload reopens the saved run with it.
  const runFile = parseRunFile((await download(page, () => page.getByTestId('export-run').click())).bytes.toString('utf8'));
  expect(runFile.analyses).toEqual([analysis]);
  await page.reload();
  await page.getByTestId('saved-runs').locator('li').first().getByRole('button', { name: /^Open / }).click();
  await expect(page.getByTestId('experiment-ablate')).toHaveAttribute('data-state', 'done', { timeout: TIMEOUT });
  await expect(page.getByTestId('analysis-header')).toContainText('quick-add, seed 3');

  // Reopened from Saved runs, the finished run still has its model: it takes new experiments.
  await expect(page.getByTestId('run-phase')).toHaveAttribute('data-phase', 'finished');
  for (const name of ['Perturbation sweep', 'Curvature', 'Functional modes', 'Verdict']) await choices.getByLabel(new RegExp(`^${name}`)).uncheck();
  await expect(run).toBeEnabled();
  await run.click();
  await expect(progress).toHaveCount(0, { timeout: TIMEOUT });
  await expect(page.getByTestId('analysis-header').getByRole('combobox')).toHaveCount(1); // two analyses now

  // Cancel stops a weight-decay intervention cleanly: no new analysis, the page says so.
  await choices.getByLabel(/^Ablation/).uncheck();
  await choices.getByLabel(/^Weight-decay intervention/).check();
  await run.click();
  await expect(progress).toContainText('branch wd', { timeout: TIMEOUT });
  await page.getByTestId('experiment-cancel').click();
  await expect(progress).toHaveCount(0, { timeout: TIMEOUT });
  await expect(page.getByTestId('notice')).toContainText('Experiments cancelled');
  await expect(page.getByTestId('analysis-header').getByRole('combobox').locator('option')).toHaveCount(2);
  expect(pageErrors).toEqual([]);
});
