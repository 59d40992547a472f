// The project stands on its own: the science the code relies on is written in docs/science.md, and the code cites
// it there by section. This keeps it so: no source file, test or the README points at a specification outside the
// repository, and every `docs/science.md §N.M` they cite is a heading of that document.
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const SCANNED_DIRS = ['src', 'shaders', 'test', 'e2e'];
const TEXT_FILE = /\.(ts|tsx|js|mjs|wgsl|css|md|json|html)$/;
/** The external specification the code used to cite, by name or by section (a word of its own, so SPECTRAL_* passes). */
const EXTERNAL_SPEC = /\bSPEC\b/;
const CITATION = /docs\/science\.md((?:,? ?§\d+(?:\.\d+)?)+)/g;

function sourceFiles(): string[] {
  const files = SCANNED_DIRS.flatMap((dir) =>
    (readdirSync(join(ROOT, dir), { recursive: true }) as string[]).filter((f) => TEXT_FILE.test(f)).map((f) => join(ROOT, dir, f)),
  );
  return [...files, join(ROOT, 'README.md')];
}

/** "§2.5" for every heading "### 2.5 ..." or "## 2. ..." of the document. */
function documentSections(): Set<string> {
  const headings = readFileSync(join(ROOT, 'docs/science.md'), 'utf8').matchAll(/^#{2,3} (\d+(?:\.\d+)?)\.? /gm);
  return new Set([...headings].map(([, number]) => `§${number}`));
}

it('cites no specification outside the repository, and only sections docs/science.md has', () => {
  const sections = documentSections();
  expect(sections.has('§3.4')).toBe(true);
  const external: string[] = [];
  const dangling: string[] = [];
  let citations = 0;
  for (const file of sourceFiles()) {
    const lines = readFileSync(file, 'utf8').split('\n');
    lines.forEach((line, i) => {
      const where = `${relative(ROOT, file)}:${i + 1}`;
      if (EXTERNAL_SPEC.test(line)) external.push(`${where}: ${line.trim()}`);
      for (const [, cited] of line.matchAll(CITATION)) {
        for (const section of cited.match(/§\d+(?:\.\d+)?/g)!) {
          citations++;
          if (!sections.has(section)) dangling.push(`${where}: ${section}`);
        }
      }
    });
  }
  expect(external, 'cite docs/science.md instead').toEqual([]);
  expect(dangling, 'no such section in docs/science.md').toEqual([]);
  expect(citations).toBeGreaterThan(0);
});
