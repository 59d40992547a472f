// One screen, at a laptop's 1024x768, a desktop's 1440x900 and a projector's 1920x1080, in the full lab and in
// classroom mode: the run bar (Start, Pause/Resume, Step, the step and the status) is one line and in view without
// scrolling, and stays in view when the page scrolls; the classroom's charts keep their height (at least 150 px of
// figure) under titles of at most two lines, the first four wholly in view; the walkthrough's panel fits the screen
// (it scrolls on its own). The primer is folded in the lab and open in classroom mode, with its four drawings and
// the four papers. Screenshots go to test-results/.
import { expect, test, type Page } from '@playwright/test';

const SIZES = [
  { width: 1024, height: 768 },
  { width: 1440, height: 900 },
  { width: 1920, height: 1080 },
] as const;

/** The run bar's visible parts (its own and the status line's): one line when every one overlaps every other vertically. */
async function barLines(page: Page): Promise<{ oneLine: boolean; height: number }> {
  return page.evaluate(() => {
    const bar = document.querySelector('.topbar')!;
    const parts = [...bar.children, ...bar.querySelectorAll('.status-bar > *, .run-buttons > *')]
      .filter((e) => !e.classList.contains('status-bar') && !e.classList.contains('run-buttons'))
      .map((e) => e.getBoundingClientRect())
      .filter((r) => r.width > 0);
    const lowestTop = Math.max(...parts.map((r) => r.top));
    const highestBottom = Math.min(...parts.map((r) => r.bottom));
    return { oneLine: lowestTop < highestBottom, height: bar.getBoundingClientRect().height };
  });
}

/** Starts a long run and pauses it: the bar then shows its widest usual state ("New run", "Resume", "Paused", "step n / 1,200"). */
async function startAndPause(page: Page): Promise<void> {
  await page.getByTestId('start').click();
  await expect(page.getByTestId('run-phase')).toHaveAttribute('data-phase', 'running', { timeout: 120_000 });
  await page.getByTestId('pause').click();
  await expect(page.getByTestId('run-phase')).toHaveAttribute('data-phase', 'paused');
}

for (const classroom of [false, true]) {
  const mode = classroom ? 'classroom' : 'lab';
  test(`${mode}: the run bar is one line and in view at 1024x768, 1440x900 and 1920x1080`, async ({ page }) => {
    const pageErrors: string[] = [];
    page.on('pageerror', (e) => pageErrors.push(e.message));
    await page.setViewportSize(SIZES[0]);
    await page.goto(`/#preset=quick-add&seed=1${classroom ? '&classroom=on' : ''}`);
    await expect(page.getByTestId('adapter')).not.toContainText(/looking|none/);
    await startAndPause(page);

    for (const size of SIZES) {
      await page.setViewportSize(size);
      await page.evaluate(() => window.scrollTo(0, 0));
      const where = `${mode} at ${size.width}x${size.height}`;
      await expect(page.getByTestId('start'), where).toBeInViewport({ ratio: 1 });
      await expect(page.getByTestId('resume'), where).toBeInViewport({ ratio: 1 });
      await expect(page.getByTestId('step'), where).toBeInViewport({ ratio: 1 });
      await expect(page.getByTestId('run-step'), where).toBeInViewport();
      await expect(page.getByTestId('run-phase'), where).toBeInViewport();
      const bar = await barLines(page);
      expect(bar.oneLine, `${where}: the run bar is one line (${bar.height} px)`).toBe(true);
      await page.screenshot({ path: `test-results/layout-${mode}-${size.width}x${size.height}.png` });

      if (classroom) {
        // The key charts filling the screen: no figure squeezed, no title over two lines, the walkthrough within the screen.
        const layout = await page.evaluate(() => ({
          figures: [...document.querySelectorAll('.classroom-grid .figure')].map((f) => f.getBoundingClientRect().height),
          titles: [...document.querySelectorAll('.classroom-grid .chart-header h3')].map((h) => h.getBoundingClientRect().height / parseFloat(getComputedStyle(h).lineHeight)),
          side: document.querySelector('.classroom-side')!.getBoundingClientRect(),
          sideOverflow: getComputedStyle(document.querySelector('.classroom-side')!).overflowY,
        }));
        expect(layout.figures).toHaveLength(5);
        for (const h of layout.figures) expect(h, `${where}: chart heights ${layout.figures.map(Math.round)}`).toBeGreaterThanOrEqual(150);
        for (const lines of layout.titles) expect(lines, `${where}: chart title lines`).toBeLessThanOrEqual(2.1);
        expect(layout.side.bottom, `${where}: the walkthrough's panel ends within the screen`).toBeLessThanOrEqual(size.height + 1);
        expect(layout.side.right).toBeLessThanOrEqual(size.width);
        expect(layout.sideOverflow).toBe('auto');
        // Loss, accuracy, g23 and the energy fraction are in view whole; on a short screen the fifth is just below.
        for (const id of ['loss', 'accuracy', 'g23', 'energy-v1']) await expect(page.locator(`[data-chart="${id}"]`), where).toBeInViewport({ ratio: 1 });
      } else {
        // The page scrolls under the bar: the run's buttons stay in view at the bottom of the charts.
        await page.getByTestId('chart-stable-rank').scrollIntoViewIfNeeded();
        expect(await page.evaluate(() => window.scrollY), `${where}: the page scrolled`).toBeGreaterThan(500);
        await expect(page.getByTestId('resume'), `${where}, scrolled`).toBeInViewport({ ratio: 1 });
      }
    }
    expect(pageErrors).toEqual([]);
  });
}

test('the primer: folded in the lab, open in classroom mode, four drawings and the four papers; readable names', async ({ page }) => {
  await page.setViewportSize({ width: 1440, height: 900 });
  await page.goto('/');
  const primer = page.getByTestId('primer');
  await expect(primer).not.toHaveAttribute('open');
  await primer.getByText('What am I looking at?').click();
  await expect(primer.locator('figure svg[role="img"]')).toHaveCount(4);
  for (const idea of ['grokking', 'window', 'drive', 'ablation']) await expect(primer.locator(`[data-idea="${idea}"] svg`)).toBeVisible();
  for (const id of ['2603.28964', '2604.07380', '2604.06256', '2606.04405']) {
    await expect(primer.locator(`a[href="https://arxiv.org/abs/${id}"]`)).toHaveCount(1);
  }
  await primer.screenshot({ path: 'test-results/layout-primer.png' });

  // The paper presets name their paper; the operations read as formulas.
  await page.getByTestId('preset-modarith').check();
  await expect(page.locator('.preset-description')).toContainText('The Spectral Edge Thesis');
  await expect(page.getByTestId('field-op').locator('option')).toContainText(['x + y', 'x − y', 'x · y', 'x² + y²', 'x² + xy + y²', 'x³ + xy']);
  await page.getByTestId('field-op').selectOption({ label: 'x² + xy + y²' });
  await expect(page).toHaveURL(/op=x2xyy2/);

  await page.getByTestId('classroom-toggle').click();
  await expect(page.getByTestId('primer')).toHaveAttribute('open');
});
