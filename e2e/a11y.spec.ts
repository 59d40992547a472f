// Accessibility: axe-core finds no serious or critical violation on the lab page and in classroom mode; every
// control has a name of its own (the charts' "log step" checkboxes once shared one); a skip link leads past the
// header and the settings to the charts.
import { expect, test } from '@playwright/test';
import { expectNoSeriousViolations } from './a11y';

test('the lab page and classroom mode pass axe; names are unique; the skip link reaches the charts', async ({ page }) => {
  await page.setViewportSize({ width: 1440, height: 900 });
  await page.goto('/');
  await expect(page.getByTestId('adapter')).not.toContainText(/looking|none/);
  await expect(page.getByTestId('chart-loss')).toBeVisible();

  // Every checkbox, radio and button on the page has its own accessible name.
  const snapshot = await page.locator('body').ariaSnapshot();
  const names = [...snapshot.matchAll(/- (checkbox|radio) "([^"]*)"/g)].map((m) => m[2]);
  expect(names.length).toBeGreaterThan(12);
  expect(names.filter((n, i) => names.indexOf(n) !== i), 'checkbox and radio names used twice').toEqual([]);
  await expect(page.getByRole('checkbox', { name: 'log step axis of Loss', exact: true })).toHaveCount(1);

  // The skip link: the first Tab stop, shown when focused, and it moves focus to the charts.
  await page.keyboard.press('Tab');
  const skip = page.getByRole('link', { name: 'Skip to the charts' });
  await expect(skip).toBeFocused();
  await expect(skip).toBeInViewport();
  await page.keyboard.press('Enter');
  await expect(page.locator('main')).toBeFocused();

  await expectNoSeriousViolations(page, 'the lab page');

  await page.getByTestId('classroom-toggle').click();
  await expect(page.locator('html')).toHaveClass(/classroom/);
  await expect(page.getByTestId('walkthrough-step')).toBeVisible();
  await expectNoSeriousViolations(page, 'classroom mode');
});
