// The automated accessibility check the e2e specs share: axe-core's WCAG 2.x A/AA rules on the page as it stands.
import AxeBuilder from '@axe-core/playwright';
import { expect, type Page } from '@playwright/test';

/** Fails with each rule and its first offending nodes when axe finds a serious or critical violation. */
export async function expectNoSeriousViolations(page: Page, where: string): Promise<void> {
  const { violations } = await new AxeBuilder({ page }).withTags(['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'best-practice']).analyze();
  const serious = violations.filter((v) => v.impact === 'serious' || v.impact === 'critical');
  const report = serious.map((v) => `${v.impact} ${v.id}: ${v.help} (${v.nodes.length}: ${v.nodes.slice(0, 3).map((n) => n.target.join(' ')).join('; ')})`);
  const minor = violations.filter((v) => !serious.includes(v)).map((v) => `${v.impact} ${v.id} (${v.nodes.length})`);
  if (minor.length) console.log(`axe, ${where}, minor: ${minor.join(', ')}`);
  expect(report, `axe: serious or critical violations on ${where}`).toEqual([]);
}
