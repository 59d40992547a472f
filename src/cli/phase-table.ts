// The phase diagram's text for the terminal (npm run phase-diagram): one line per finished cell, and the tables of the
// whole grid. Stable ranks come with the norms beside them: Low-Rank Decay can shrink W_Q to its floor, a flat
// spectrum of about 0.01 whose stable rank reads near d for a matrix that is effectively gone.
import type { PhaseCellResult, PhaseDiagramFile } from '../formats/phase-diagram-file';

/** One value per attention module, "3.14/2.72" ("-" for a zero matrix's stable rank). */
function formatPerModule(values: (number | null)[], digits: number): string {
  return values.map((x) => (x === null ? '-' : x.toFixed(digits))).join('/');
}

/**
 * The highest test accuracy and its step, the grok step, and the final stable ranks of a cell with the norms beside
 * them (a matrix decayed to its floor has a flat spectrum: a high stable rank, and only its norm says it is gone).
 */
export function cellSummary(r: PhaseCellResult): string {
  const grok = r.grokStep === null ? 'no grok' : `grok ${r.grokStep}`;
  const norms = r.norm ? `, norm Q ${formatPerModule(r.norm.q, 3)} K ${formatPerModule(r.norm.k, 3)}` : '';
  return `max test acc ${r.maxTestAcc.toFixed(3)} at ${r.maxTestAccStep}, ${grok}, srank Q ${formatPerModule(r.stableRank.q, 2)} K ${formatPerModule(r.stableRank.k, 2)}${norms}`;
}

const CELL_WIDTH = 36;

/** A cell's final stable rank of W_Q or W_K, its Frobenius norm beside it where the file has it: "63.2 (0.090)". */
function moduleRanks(r: PhaseCellResult, m: 'q' | 'k'): string {
  const ranks = formatPerModule(r.stableRank[m], 1);
  return r.norm ? `${ranks} (${formatPerModule(r.norm[m], 3)})` : ranks;
}

/** One table per decay kind: a row per train fraction, a column per strength, each the max test accuracy and the
 * final stable ranks (with norms). */
export function diagramTables(file: PhaseDiagramFile): string {
  const { plan } = file;
  return (['l2', 'lrd'] as const)
    .filter((decay) => plan[decay].length > 0)
    .map((decay) => {
      const strengths = plan[decay];
      const head = `${decay === 'l2' ? 'L2 (wd)' : 'LRD (rate)'} max test acc / stable rank Q (norm), K (norm)`;
      const rows = plan.trainFractions.map((f) => {
        const cells = strengths.map((s) => {
          const r = file.cells.find((c) => c.decay === decay && c.trainFraction === f && c.strength === s);
          return (r ? `${r.maxTestAcc.toFixed(3)} / ${moduleRanks(r, 'q')}, ${moduleRanks(r, 'k')}` : 'not run').padEnd(CELL_WIDTH);
        });
        return `  fraction ${String(f).padEnd(6)} ${cells.join('')}`;
      });
      return [head, `  ${''.padEnd(15)} ${strengths.map((s) => String(s).padEnd(CELL_WIDTH)).join('')}`, ...rows].join('\n');
    })
    .join('\n');
}
