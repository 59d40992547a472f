// docs/science.md §1's task, model and AdamW constants in the page: a link that changes them opens "More settings"
// with their values and the model's parameter count, a field that breaks the model says why and Start refuses it, and
// the run trains the model the link asked for: the exported run file holds the same overrides and the model built
// from them.
import { expect, test } from '@playwright/test';
import { download } from './helpers';

test('a link with a smaller modulus and model trains that model, and the run file keeps it', async ({ page }) => {
  await page.goto('/#preset=quick-add&seed=1&steps=20&eval=10&p=17&dmodel=32&heads=2&b2=0.95');
  await expect(page.getByTestId('more-settings')).toBeVisible();
  await expect(page.getByTestId('field-p')).toHaveValue('17');
  await expect(page.getByTestId('field-dModel')).toHaveValue('32');
  // Embeddings 17 x 32 + 2 x 32, one block of d_model 32 and d_ff 128, the final norm and a head of 17 classes.
  await expect(page.getByTestId('param-count')).toHaveText(' · 13,937 parameters');

  await page.getByTestId('field-nHeads').fill('3');
  await expect(page.getByText('must divide d_model (32), got 3')).toBeVisible();
  await expect(page.getByTestId('param-count')).toHaveCount(0);
  await page.getByTestId('start').click();
  await expect(page.getByText('Cannot start: nHeads must divide d_model (32), got 3')).toBeVisible();
  await expect(page.getByTestId('run-phase')).toHaveAttribute('data-phase', 'idle');
  await page.getByTestId('field-nHeads').fill('2');

  await page.getByTestId('start').click();
  await expect(page.getByTestId('run-phase')).toHaveAttribute('data-phase', 'finished', { timeout: 120_000 });
  const file = JSON.parse((await download(page, () => page.getByTestId('export-run').click())).bytes.toString('utf8'));
  expect(file.config.overrides).toMatchObject({ p: 17, dModel: 32, nHeads: 2, beta2: 0.95 });
  expect(file.config.model).toMatchObject({ vocabSize: 17, nClasses: 17, dModel: 32, nHeads: 2 });
  expect(file.config.optim.beta2).toBe(0.95);
  expect(file.series.step).toEqual([10, 20]);
});
