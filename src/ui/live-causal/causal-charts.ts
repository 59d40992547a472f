// The "Causal, live" charts as specs: the live causal probes over training (ablation with the random and one-token
// bands and the verdict strip, perturbation KL and loss change against the random band, curvature with its float32
// noise band), and the "curve at step" figure of one probe (Δacc or KL against ε). All are drawn by the lab's one
// TimeSeriesChart; the over-training ones read the causal table (src/store/causal-columns.ts), the curve reads one
// record through curveSource.
import { EPS_FRACTIONS, UNIVERSALITY_CLASSES, type CausalRecord, type UniversalityClass } from '../../formats/live-causal';
import type { RunConfig } from '../../formats/run-file';
import type { BandSpec, ChartSpec, LineSpec, StripSpec } from '../charts/chart-spec';
import { CHART_INK, OKABE_ITO } from '../charts/palette';
import type { ChartData } from '../charts/plot-model';
import type { ChartSource } from '../charts/TimeSeriesChart';
import { PERTURBED_EDGE_DIRECTIONS } from '../../store/causal-columns';

/** The edge directions' and the random control's styles, the same on every chart of the group (edge as in the experiment panels). */
const EDGE_STYLES = [
  { color: OKABE_ITO.vermillion, dash: [] },
  { color: OKABE_ITO.blue, dash: [7, 3] },
  { color: OKABE_ITO.green, dash: [8, 3, 2, 3] },
] as const;
const RANDOM_MEAN = { color: CHART_INK.text, dash: [2, 2] } as const;
const RANDOM_BAND = CHART_INK.axis;
const TOKEN_BAND = OKABE_ITO.skyBlue;

export const VERDICT_COLORS: Record<UniversalityClass, string> = {
  functional: OKABE_ITO.green,
  mixed: OKABE_ITO.orange,
  compression: OKABE_ITO.purple,
};

const VERDICT_STRIP: StripSpec = {
  key: 'verdict',
  label: 'verdict',
  categories: UNIVERSALITY_CLASSES.map((c) => ({ label: c, color: VERDICT_COLORS[c] })),
};

const line = (key: string, label: string, style: { color: string; dash: readonly number[] }): LineSpec => ({ key, label, ...style });
const edgeLines = (prefix: string) => Array.from({ length: PERTURBED_EDGE_DIRECTIONS }, (_, i) => line(`${prefix}${i + 1}`, `v${'₁₂₃'[i]}`, EDGE_STYLES[i]));
const randomBand = (prefix: string, label = 'random (min–max)'): BandSpec => ({ lower: `${prefix}Min`, upper: `${prefix}Max`, label, color: RANDOM_BAND });

/** Whether a run has the live causal probes on (false: off; null: no run on show). */
export const causalOn = (config: RunConfig | null): boolean | null => (config ? config.causal?.enabled === true : null);

/** What the group's charts say before their first probe, for the run on show. */
export function causalEmptyText(config: RunConfig | null): string {
  if (!config) return 'No probes yet: start a run with “Live causal probes” on (in the run form; on by default in classroom mode).';
  if (!config.causal?.enabled) return 'This run has the live causal probes off: switch on “Live causal probes” in the run form and start again.';
  const { every } = config.causal;
  const short = config.steps < every ? ` This run is ${config.steps.toLocaleString('en')} steps long: make it longer or probe more often.` : '';
  return `No probe yet: one runs every ${every.toLocaleString('en')} steps, on a full spectral window.${short}`;
}

/** The over-training charts of the group (source 'causal'). */
export function causalCharts(config: RunConfig | null): ChartSpec[] {
  const emptyText = causalEmptyText(config);
  const base = { source: 'causal' as const, yScale: 'linear' as const, emptyText };
  return [
    {
      ...base,
      id: 'causal-ablation',
      title: 'Ablation over training',
      yLabel: 'Δ test accuracy',
      description:
        'Test accuracy lost when the edge pair {v₁, v₂}, the bulk pair {v₃, v₄} or random pairs are removed from θ_attn, at each probe. ' +
        'Inside the blue band a change is less than one token flip. The strip along the step axis is the edge’s verdict.',
      lines: [line('edgeDeltaAcc', 'edge {v₁,v₂}', EDGE_STYLES[0]), line('bulkDeltaAcc', 'bulk {v₃,v₄}', EDGE_STYLES[1]), line('randomDeltaAccMean', 'random mean', RANDOM_MEAN)],
      bands: [randomBand('randomDeltaAcc', 'random pairs (min–max)'), { lower: 'tokenLow', upper: 'tokenHigh', label: '±1 token', color: TOKEN_BAND }],
      strip: VERDICT_STRIP,
    },
    {
      ...base,
      id: 'causal-kl',
      title: 'Perturbation KL over training',
      yScale: 'log',
      yLabel: 'max KL(base‖perturbed)',
      description: 'The largest KL divergence of the model moved up to ±ε along v₁, v₂, v₃, against random directions (grey band, dotted mean).',
      lines: [...edgeLines('klV'), line('klRandomMean', 'random mean', RANDOM_MEAN)],
      bands: [randomBand('klRandom')],
    },
    {
      ...base,
      id: 'causal-dloss',
      title: 'Perturbation loss change over training',
      yLabel: 'max Δ test loss',
      description: 'The largest rise in test loss (on the probe subset) up to ±ε along v₁, v₂, v₃, against random directions.',
      lines: [...edgeLines('dLossV'), line('dLossRandomMean', 'random mean', RANDOM_MEAN)],
      bands: [randomBand('dLossRandom')],
    },
    {
      ...base,
      id: 'causal-curvature',
      title: 'Curvature along v₁',
      yLabel: 'v₁ᵀHv₁',
      description: 'The loss’s second derivative along v₁ by finite difference. Inside the grey band it is below float32 noise: not resolved.',
      lines: [line('curvature', 'v₁ᵀHv₁', EDGE_STYLES[0])],
      bands: [{ lower: 'curvatureNoiseLow', upper: 'curvatureNoiseHigh', label: 'float32 noise', color: RANDOM_BAND }],
    },
  ];
}

// ---- The curve at a step -----------------------------------------------------------------------------------

/** KL first: at the default eps the accuracy rarely moves, while the KL separates the edge from random directions. */
export const CURVE_MEASURES = ['kl', 'deltaAccuracy'] as const;
export type CurveMeasure = (typeof CURVE_MEASURES)[number];

export const CURVE_MEASURE_LABEL: Record<CurveMeasure, string> = { deltaAccuracy: 'Δ accuracy', kl: 'KL' };

/** The curve figure for one measure at the probe of `step` (null: none yet); its x axis is ε, not the step. */
export function curveChart(measure: CurveMeasure, config: RunConfig | null, step: number | null): ChartSpec {
  const acc = measure === 'deltaAccuracy';
  const at = step === null ? '' : ` at step ${step.toLocaleString('en')}`;
  return {
    id: acc ? 'causal-curve-acc' : 'causal-curve-kl',
    title: `${acc ? 'Accuracy change' : 'KL'} against ε${at}`,
    source: 'causal',
    xLabel: 'ε (step along the direction)',
    yScale: 'linear',
    yLabel: acc ? 'Δ test accuracy' : 'KL(base‖perturbed)',
    emptyText: causalEmptyText(config),
    description: acc
      ? 'Test accuracy (probe subset) of the model moved by ε along v₁, v₂, v₃ and along random directions (grey band), at the chosen probe.'
      : 'How far the predictions move (KL from the unperturbed model) at ε along v₁, v₂, v₃ and along random directions, at the chosen probe.',
    lines: [...edgeLines('v'), line('randomMean', 'random mean', RANDOM_MEAN)],
    bands: [randomBand('random', 'random directions (min–max)')],
  };
}

/** The ε fractions of the curve, with the unperturbed model (0) in its place. */
export const CURVE_FRACTIONS: readonly number[] = [...EPS_FRACTIONS, 0].sort((a, b) => a - b);

/**
 * One probe's perturbation curves as chart data: x = eps * fraction (0 included, where every curve is 0 by
 * definition), columns v1..v3 and the random directions' min, mean and max.
 */
export function curveData(record: CausalRecord, measure: CurveMeasure): ChartData {
  const { eps, edge, random } = record.perturbation;
  const at = (values: readonly number[], fraction: number) => {
    if (fraction === 0) return 0;
    const i = EPS_FRACTIONS.indexOf(fraction as (typeof EPS_FRACTIONS)[number]);
    return i >= 0 && i < values.length ? values[i] : NaN;
  };
  const columns = new Map<string, Float64Array>();
  for (let k = 0; k < PERTURBED_EDGE_DIRECTIONS; k++) {
    const curve = edge[k];
    columns.set(`v${k + 1}`, Float64Array.from(CURVE_FRACTIONS, (f) => (curve ? at(curve[measure], f) : NaN)));
  }
  const randomAt = CURVE_FRACTIONS.map((f) => random.map((c) => at(c[measure], f)).filter(Number.isFinite));
  const stat = (pick: (values: number[]) => number) => Float64Array.from(randomAt, (vs) => (vs.length ? pick(vs) : NaN));
  columns.set('randomMin', stat((vs) => Math.min(...vs)));
  columns.set('randomMean', stat((vs) => vs.reduce((a, b) => a + b, 0) / vs.length));
  columns.set('randomMax', stat((vs) => Math.max(...vs)));
  const x = Float64Array.from(CURVE_FRACTIONS, (f) => f * eps);
  return {
    length: x.length,
    x,
    y: (key) => columns.get(key) ?? new Float64Array(x.length).fill(NaN),
  };
}

/** The curve figure's source: the record at `index` (none: empty), redrawn when the index or the table changes. */
export function curveSource(records: readonly CausalRecord[], index: number, measure: CurveMeasure, tableVersion: () => number): ChartSource {
  const empty: ChartData = { length: 0, x: new Float64Array(), y: () => new Float64Array() };
  return {
    version: () => tableVersion() * 1_000_003 + index,
    data: () => {
      const record = records[index];
      return record ? curveData(record, measure) : empty;
    },
  };
}
