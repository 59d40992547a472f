// Saved runs the page cannot read: a damaged record in IndexedDB is listed as damaged, with its reason and a
// Delete button, and the rest of the page keeps working.
import { expect, test } from '@playwright/test';

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
          const tx = db.transaction(['summaries', 'runFiles'], 'readwrite');
          tx.objectStore('summaries').put({ id: 'broken', title: 'a run', step: 'many' }, 'broken');
          tx.objectStore('runFiles').put({ kind: 'something else' }, 'broken');
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
