// The few lines `npm run analyze` prints about each experiment's result (the analysis file has everything).
import { HESSIAN_RELATIVE_RESIDUAL_LIMIT, hessianPairQuality } from '../analysis/experiments';
import type { AnalysisFile, ExperimentResults, Outcome, ResultOf } from '../formats/analysis-file';

const f = (x: number | null | undefined, digits = 3) => (x === null || x === undefined ? '-' : Math.abs(x) >= 1e4 || (x !== 0 && Math.abs(x) < 1e-3) ? x.toExponential(2) : x.toFixed(digits));
const list = (xs: readonly number[], digits = 3) => xs.map((x) => f(x, digits)).join(' ');

function hessianLine(h: NonNullable<ResultOf<'curvature'>['hessian']>): string {
  const quality = hessianPairQuality(h);
  const estimates = quality.filter((q) => q.estimate).length;
  return (
    `top Hessian eigenvalues: ${list(h.eigenvalues)} (measured residual / |lambda|: ${list(quality.map((q) => q.relativeResidual))}; ` +
    `Lanczos bounds met for ${h.converged.filter(Boolean).length} of ${h.converged.length} in ${h.iterations} iterations` +
    `${estimates ? `; ${estimates} of ${h.eigenvalues.length} only estimates (not converged, or residual above ${HESSIAN_RELATIVE_RESIDUAL_LIMIT} |lambda|)` : ''})`
  );
}

function modesLine(bases: ResultOf<'fourier'>['directions'][number]['bases']): string {
  return Object.entries(bases).map(([basis, b]) => `${basis} F ${f(b.concentration)} at k ${b.peakFrequency ?? '-'} (uniform ${f(b.uniformLevel)})`).join(', ');
}

type Summaries = { [K in keyof ExperimentResults]-?: (result: ResultOf<K>) => string[] };

const SUMMARIES: Summaries = {
  perturb: (r) => [
    `max KL(base||perturbed) over eps in [${f(r.eps[0])}, ${f(r.eps.at(-1))}] along v1..v${r.summary.edgeMaxKl.length}: ${list(r.summary.edgeMaxKl, 4)}; random directions: ${f(r.summary.randomMaxKl, 4)}`,
  ],
  curvature: (r) => [
    `curvature v^T H v along v1..v${r.edge.length}: ${list(r.edge)}; random: ${list(r.random)} (resolution ${f(r.curvatureResolution)})`,
    ...(r.hessian
      ? [hessianLine(r.hessian)]
      : []),
  ],
  ablate: (r) => [
    `base test accuracy ${f(r.base.accuracy, 4)} over ${r.scored} targets (resolution ${f(r.resolution)})`,
    `remove edge {v1,v2}: delta acc ${f(r.edge.deltaAccuracy, 4)}; bulk {v3,v4}: ${r.bulk ? f(r.bulk.deltaAccuracy, 4) : '-'}; singles: ${list(r.single.map((s) => s.deltaAccuracy), 4)}`,
    `random pairs (${r.random.trials}): mean |delta| ${f(r.random.meanAbsDelta, 4)}, max ${f(r.random.maxAbsDelta, 4)}; edge/random ${f(r.ratio.value, 1)}${r.ratio.lowerBound ? ' (lower bound: random below one token flip)' : ''}`,
  ],
  probe: (r) => [
    `probe R^2 (${r.target}, ${r.trained.positions} positions): linear ${f(r.trained.linear)}, quadratic ${f(r.trained.quadratic)}, MLP ${f(r.trained.mlp)}; untrained model: ${f(r.untrained.linear)} / ${f(r.untrained.quadratic)} / ${f(r.untrained.mlp)}`,
  ],
  fourier: (r) =>
    r.directions.flatMap((d) => [
      `${d.label}: ${modesLine(d.bases)}`,
      ...(d.offDiagonal ? [`  ${d.label} over a != b (${d.offDiagonal.diagonalPairs} pairs a = b left out, their mean f ${f(d.offDiagonal.diagonalResponseRatio, 1)}x the rest's): ${modesLine(d.offDiagonal.bases)}`] : []),
    ]),
  'wd-intervention': (r) => [
    `from step ${r.fromStep}, ${r.steps} steps per branch with fresh AdamW moments (probe: ${r.probe.target ?? 'none'}):`,
    ...[r.base, ...r.branches].map(
      (row, i) => `  ${i === 0 ? 'checkpoint' : `wd ${row.weightDecay}`}: test acc ${f(row.testAccuracy, 4)}, linear R^2 ${f(row.probeR2)}, attention entropy ${f(row.attentionEntropy)}, ||theta|| ${f(row.thetaNorm, 2)}`,
    ),
  ],
  verdict: (r) => [
    `class: ${r.class} (${r.reason})`,
    ...(r.caveat ? [`  caution: ${r.caveat}`] : []),
    ...r.evidence.map((e) => `  ${e.quantity}: ${f(e.value)} (${e.threshold}${e.sign ? ` ${e.sign}` : ''}: ${e.met === null ? 'not measurable' : e.met ? 'yes' : 'no'})`),
  ],
};

/** One heading per experiment, then its lines (or why it did not apply). */
export function describeAnalysis(analysis: AnalysisFile): string[] {
  const out: string[] = [];
  for (const [name, outcome] of Object.entries(analysis.experiments) as [keyof ExperimentResults, Outcome<unknown>][]) {
    if ('notApplicable' in outcome) {
      out.push(`${name}: not applicable: ${outcome.notApplicable}`);
      continue;
    }
    out.push(`${name} (${(outcome.wallMs / 1000).toFixed(1)} s):`);
    out.push(...(SUMMARIES[name] as (r: unknown) => string[])(outcome.result).map((line) => `  ${line}`));
  }
  return out;
}
