// What the page does when things go wrong: a run that diverges at a spectral window ends as diverged with the
// divergence message (not "failed"), and a damaged saved run is listed as damaged, with its reason and a Delete
// button, while the rest of the page keeps working.
import { expect, test } from '@playwright/test';

test('a run whose spectral window goes non-finite ends as diverged, with the message', async ({ page }) => {
  await page.goto('/');
  await expect(page.getByTestId('adapter')).not.toContainText(/looking|none/);
  // The form's largest learning rate with its largest weight decay: theta <- -9 theta each step, non-finite within
  // a dozen steps, first seen by a window (one every step) before the first evaluation (step 20).
  await page.getByTestId('more-settings').click();
  for (const [field, value] of [['lr', '1'], ['weightDecay', '10'], ['steps', '60'], ['evalEvery', '20'], ['window', '2'], ['snapshotEvery', '1']]) {
    await page.getByTestId(`field-${field}`).fill(value);
  }
  await page.getByRole('button', { name: 'Start', exact: true }).click();
  await expect(page.getByTestId('run-phase')).toHaveAttribute('data-phase', 'finished', { timeout: 5 * 60_000 });
  await expect(page.getByTestId('run-phase')).toContainText('Finished (diverged)');
  await expect(page.getByTestId('status-message')).toHaveText(
    /^training diverged at step \d+ \(the spectral window's Gram matrix is not finite \(.*\)\); stopped and restored the last good checkpoint \(step 0, lr 1, weight decay 10\)$/,
  );
  await page.evaluate(() => window.scrollTo(0, 0));
  await page.screenshot({ path: 'test-results/failures-diverged.png' });
});

test('lists a damaged saved run with its reason and deletes it', async ({ page }) => {
  await page.goto('/');
  await expect(page.getByText('Runs are saved in this browser as they train')).toBeVisible(); // the database is open
  await page.evaluate(
    () =>
      new Promise<void>((resolve, reject) => {
        const open = indexedDB.open('spectral-edge-lab');
        open.onerror = () => reject(open.error);
        open.onsuccess = () => {
          const db = open.result;
          const tx = db.transaction(['summaries', 'runs'], 'readwrite');
          tx.objectStore('summaries').put({ id: 'broken', title: 'a run', step: 'many' }, 'broken');
          tx.objectStore('runs').put({ kind: 'something else' }, 'broken');
          tx.oncomplete = () => {
            db.close();
            resolve();
          };
          tx.onerror = () => reject(tx.error);
        };
      }),
  );
  await page.reload();
  const damaged = page.getByTestId('damaged-run');
  await expect(damaged).toHaveCount(1);
  await expect(damaged).toContainText('Damaged saved run');
  await expect(damaged).toContainText('broken: its summary\'s preset must be a string, got nothing. It cannot be opened.');
  await expect(page.getByTestId('preset-quick-add')).toBeVisible(); // the rest of the page is there
  await page.screenshot({ path: 'test-results/saved-runs-damaged.png', fullPage: true });
  await damaged.getByRole('button', { name: 'Delete the damaged run broken' }).click();
  await expect(damaged).toHaveCount(0);
  await expect(page.getByText('Runs are saved in this browser as they train')).toBeVisible();
});
