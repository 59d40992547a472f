// The lab's charts as specs (what each plots, in words too), the sources that feed them from the series tables,
// and the markers a run's events put on every chart (hyperparameter changes, the grok step, divergences). Classroom
// mode shows five of the same specs with captions for a room, and its key moments as markers.
import { lines, type ChartSpec, type LineSpec } from './charts/chart-spec';
import { SERIES_STYLES } from './charts/palette';
import { attentionModules, buildParamTable } from '../model/params';
import type { ChartSource } from './charts/TimeSeriesChart';
import type { Marker } from './charts/plot-model';
import type { RunEvent, MetricKey } from '../formats/metrics';
import type { RunConfig } from '../formats/run-file';
import { headColumn, type LabTables } from '../store/lab-store';
import { STABLE_RANK_MODULES } from '../store/spectral-columns';
import type { SeriesTable } from '../store/series-table';
import { DECAY_DRIVEN_ENERGY, EDGE_NECESSARY_COST, momentsInOrder, type KeyMomentKind, type KeyMoments } from '../store/key-moments';
import { causalCharts } from './live-causal/causal-charts';

const NO_EVALUATIONS = 'No evaluations yet: start a run, or open a saved one.';
const NOT_COMPUTED = 'Not computed yet: the first spectral record arrives when the first window of W snapshots is full.';

export function trainingCharts(config: RunConfig | null, headNames: string[] | null): ChartSpec[] {
  const scan = config?.task.kind === 'scan';
  const charts: ChartSpec[] = [
    {
      id: 'loss', title: 'Loss', source: 'metrics', yScale: 'log', yLabel: 'cross-entropy', emptyText: NO_EVALUATIONS,
      description: 'Mean cross-entropy on the whole training and test sets. Grokking: the test loss falls long after the training loss.',
      lines: lines(['trainLoss', 'train'], ['testLoss', 'test']),
    },
    {
      id: 'accuracy', title: 'Accuracy', source: 'metrics', yScale: 'linear', yDomain: [0, 1], yLabel: 'accuracy', emptyText: NO_EVALUATIONS,
      description: scan
        ? 'Token accuracy, and sequence accuracy (teacher-forced and greedy decoding). SCAN groks on test sequence accuracy.'
        : 'Token accuracy on the training and test sets. The run groks at the first evaluation with test accuracy >= 0.95.',
      lines: scan
        ? lines(['trainAcc', 'train token'], ['testAcc', 'test token'], ['testSeqAcc', 'test sequence'], ['testGreedyAcc', 'test greedy'])
        : lines(['trainAcc', 'train'], ['testAcc', 'test']),
    },
    {
      id: 'norms', title: 'Parameter norms', source: 'metrics', yScale: 'linear', yLabel: 'norm', emptyText: NO_EVALUATIONS,
      description: '‖θ‖ over all parameters and ‖θ_attn‖ over the attention projections. Weight decay shrinks them; lower it and watch them grow.',
      lines: lines(['thetaNorm', '‖θ‖'], ['attnNorm', '‖θ_attn‖']),
    },
    {
      id: 'gradient', title: 'Batch loss and gradient norm', source: 'metrics', yScale: 'log', yLabel: 'value', emptyText: NO_EVALUATIONS,
      description: 'The loss of the step’s own minibatch and the global gradient norm before clipping (clipped at 1).',
      lines: lines(['batchLoss', 'minibatch loss'], ['gradNorm', '‖∇‖']),
    },
  ];
  if (headNames && headNames.length > 0) {
    charts.push({
      id: 'heads', title: 'Test accuracy per task', source: 'heads', yScale: 'linear', yDomain: [0, 1], yLabel: 'test accuracy', emptyText: NO_EVALUATIONS,
      description: 'Each task head of the multitask model on its own test set: the operations grok at different times.',
      lines: lines(...headNames.map((h): [string, string] => [headColumn('testAcc', h), h])),
    });
  }
  return charts;
}

export const SPECTRAL_CHARTS: ChartSpec[] = [
  {
    id: 'sigma', title: 'Singular values σ₁…σ₅', source: 'spectral', yScale: 'log', yLabel: 'σ', emptyText: NOT_COMPUTED,
    description: 'The spectrum of the window of the last W parameter updates of θ_attn. The edge is where it breaks: a large gap after σ_k*.',
    lines: lines(...[1, 2, 3, 4, 5].map((k): [string, string] => [`sigma${k}`, `σ${k}`])),
  },
  {
    id: 'g23', title: 'Gap g₂₃ = σ₂² − σ₃²', source: 'spectral', yScale: 'log', yLabel: 'g₂₃', emptyText: NOT_COMPUTED,
    noValuesText: 'Not defined for this run: g₂₃ needs a window of W ≥ 3 updates.',
    description: 'The squared-singular-value gap below the second direction; with weight decay it closes as the run generalises.',
    lines: lines(['g23', 'g₂₃']),
  },
  {
    id: 'gap-ratio', title: 'Gap ratio R and edge position k*', source: 'spectral', yScale: 'linear', yLabel: 'R, k*', emptyText: NOT_COMPUTED,
    description: 'k* maximises (σ_j / Σσ)(σ_j / σ_j+1); R = σ_k* / σ_k*+1 says how sharp the edge is (1: no edge).',
    lines: lines(['gapRatio', 'R'], ['kStar', 'k*']),
  },
  {
    id: 'energy', title: 'Gradient energy fraction on v₁…v₃', source: 'spectral', yScale: 'linear', yDomain: [0, 1], yLabel: 'fraction', emptyText: NOT_COMPUTED,
    description: 'How much of each edge direction’s motion is gradient (1) rather than weight decay (0). Near 0: the edge is decay-driven.',
    lines: lines(['energy1', 'v₁'], ['energy2', 'v₂'], ['energy3', 'v₃']),
  },
  {
    id: 'alignment', title: 'Gradient–decay alignment on v₁…v₃', source: 'spectral', yScale: 'linear', yLabel: 'mean ⟨g,v⟩⟨w,v⟩', emptyText: NOT_COMPUTED,
    description: 'Positive: gradient and decay push the same way along the edge direction; negative: they fight.',
    lines: lines(['alignment1', 'v₁'], ['alignment2', 'v₂'], ['alignment3', 'v₃']),
  },
  {
    id: 'rotation', title: 'Edge rotation', source: 'spectral', yScale: 'linear', yDomain: [0, 90], yLabel: 'degrees', emptyText: NOT_COMPUTED,
    noValuesText: 'Needs a second window: the rotation compares each window’s edge directions with the previous one’s.',
    description: 'Angle between each edge direction and its predecessor one window earlier: small when the edge is stable.',
    lines: lines(['rotation1', 'v₁'], ['rotation2', 'v₂'], ['rotation3', 'v₃'], ['rotation4', 'v₄']),
  },
  {
    id: 'gap-flow', title: 'Gap flow: curvature, damping, driving', source: 'spectral', yScale: 'linear', yLabel: 'dg/dt per step', emptyText: NOT_COMPUTED,
    noValuesText: 'Not computed for this run: switch on “Gap-flow terms” in the form (it costs a few extra passes per window).',
    description: 'The three terms of the gap-flow equation at the edge (g = σ_k* − σ_k*+1), their sum, and the rate actually observed.',
    lines: lines(['gapCurvature', 'curvature asym.'], ['gapDamping', 'damping'], ['gapDriving', 'gradient driving'], ['gapPredicted', 'predicted'], ['gapObserved', 'observed']),
  },
];

/** "L1" for 'layers.0.attn', "enc L1", "dec L2", "dec L2 cross" in an encoder-decoder model. */
function moduleLabel(module: string): string {
  const m = /^(?:(encoder|decoder)\.)?layers\.(\d+)\.(attn|cross)$/.exec(module);
  if (!m) return module;
  const [, stack, layer, kind] = m;
  return [stack && stack.slice(0, 3), `L${Number(layer) + 1}`, kind === 'cross' && 'cross'].filter(Boolean).join(' ');
}

/**
 * The stable ranks of the run's W_Q and W_K (from its spectral records): one colour per attention module, W_Q solid
 * and W_K dashed. No lines before a run is on show.
 */
export function stableRankChart(config: RunConfig | null): ChartSpec {
  const modules = config ? attentionModules(buildParamTable(config.model)).slice(0, STABLE_RANK_MODULES) : [];
  const one = modules.length === 1;
  return {
    id: 'stable-rank', title: 'Stable rank of W_Q and W_K', source: 'spectral', yScale: 'linear', yLabel: 'stable rank', emptyText: NOT_COMPUTED,
    noValuesText: 'Not recorded for this run: its spectral records were written before the lab tracked the stable rank.',
    description:
      'Squared Frobenius norm over squared spectral norm of each layer’s query (solid) and key (dashed) matrix at each window: 1 for rank one, d_model when all singular values are equal. Low-Rank Decay pulls it down.',
    lines: modules.flatMap((module, i): LineSpec[] => {
      const { color } = SERIES_STYLES[i % SERIES_STYLES.length];
      const where = one ? '' : ` ${moduleLabel(module)}`;
      return [
        { key: `stableRankQ${i + 1}`, label: `W_Q${where}`, color, dash: [] },
        { key: `stableRankK${i + 1}`, label: `W_K${where}`, color, dash: [6, 3] },
      ];
    }),
  };
}

/** The first and latest evaluation steps of the run on show (its metrics table is not empty). */
function evaluationSpan(tables: LabTables): [number, number] {
  const steps = tables.metrics.column('step');
  return [steps[0], steps[tables.metrics.length - 1]];
}

/**
 * A source over records that start later than the evaluations (the spectral records at the first full window, the
 * live probes later still): the evaluations' span gives their charts the training charts' x axis.
 */
function recordSource<K extends string>(tables: LabTables, records: SeriesTable<'step' | K>): ChartSource {
  return {
    version: () => tables.metrics.version * 1_000_003 + records.version,
    data: () => ({
      length: records.length,
      x: records.column('step'),
      y: (key) => records.column(key as K),
      ...(tables.metrics.length > 0 && { span: evaluationSpan(tables) }),
    }),
  };
}

/** Chart sources over the page's tables (spectral and head columns exist only for runs that have them). */
export function chartSources(tables: LabTables): Record<ChartSpec['source'], ChartSource> {
  return {
    metrics: {
      version: () => tables.metrics.version,
      data: () => ({ length: tables.metrics.length, x: tables.metrics.column('step'), y: (key) => tables.metrics.column(key as MetricKey) }),
    },
    spectral: recordSource(tables, tables.spectral),
    heads: {
      version: () => tables.metrics.version * 1_000_003 + tables.heads.version,
      data: () => ({
        length: Math.min(tables.heads.length, tables.metrics.length),
        x: tables.metrics.column('step').subarray(0, tables.heads.length),
        y: (key) => (tables.heads.has(key) ? tables.heads.column(key) : new Float64Array(tables.heads.length).fill(NaN)),
      }),
    },
    causal: recordSource(tables, tables.causal),
  };
}

const formatRate = (v: number) => Number(v.toPrecision(3)).toString();

/** The markers of a run's events, labelled as they read on a chart. */
export function markersOf(events: readonly RunEvent[]): Marker[] {
  return events.flatMap((e): Marker[] => {
    switch (e.type) {
      case 'hyper': {
        const parts = [];
        if (e.before.weightDecay !== e.after.weightDecay) parts.push(`wd ${formatRate(e.before.weightDecay)}→${formatRate(e.after.weightDecay)}`);
        if (e.before.lr !== e.after.lr) parts.push(`lr ${formatRate(e.before.lr)}→${formatRate(e.after.lr)}`);
        return [{ step: e.step, kind: 'hyper', label: parts.join(', ') || 'hyperparameters (unchanged)' }];
      }
      case 'grok':
        return [{ step: e.step, kind: 'grok', label: e.head ? `${e.head} groks` : `grok @ ${e.step}` }];
      case 'divergence':
        return [{ step: e.step, kind: 'divergence', label: 'diverged' }];
    }
  });
}

/** The key moments' markers: what each says on a chart. */
const MOMENT_LABEL: Record<KeyMomentKind, string> = {
  memorisation: 'memorised',
  grokking: 'grokked',
  'decay-driven': 'edge decay-driven',
  'edge-necessary': 'edge necessary',
};

export const momentMarkers = (moments: KeyMoments): Marker[] =>
  momentsInOrder(moments).map((m) => ({ step: m.step, kind: m.kind, label: `${MOMENT_LABEL[m.kind]} @ ${m.step}` }));

/** Classroom charts' markers: the run's events, with its grok event drawn as the grokking moment (not twice). */
export function classroomMarkers(events: readonly RunEvent[], moments: KeyMoments): Marker[] {
  return [...markersOf(events.filter((e) => !(e.type === 'grok' && e.head === undefined))), ...momentMarkers(moments)];
}

const spec = (charts: readonly ChartSpec[], id: string) => {
  const found = charts.find((c) => c.id === id);
  if (!found) throw new Error(`no chart "${id}"`);
  return found;
};

/**
 * The charts of classroom mode (loss, accuracy, g23, v1's gradient energy fraction and the live ablation of the edge):
 * the lab's own specs with a caption written for a room.
 */
export function classroomCharts(config: RunConfig | null): ChartSpec[] {
  const training = trainingCharts(config, null);
  const energy = spec(SPECTRAL_CHARTS, 'energy');
  return [
    {
      ...spec(training, 'loss'),
      description: 'How wrong the model is on the pairs it trains on (train) and on pairs it never sees (test).',
    },
    {
      ...spec(training, 'accuracy'),
      description:
        config?.task.kind === 'dyck'
          ? 'Share of positions whose depth it gets right, on its 50 training strings (train) and 5,000 others (test).'
          : 'Share of answers it gets right. Train reaches 1 first (memorised), test much later (grokked).',
    },
    {
      ...spec(SPECTRAL_CHARTS, 'g23'),
      description: 'Gap between the 2nd and 3rd directions of recent updates: it shrinks as weight decay takes over.',
    },
    {
      ...energy,
      id: 'energy-v1',
      title: 'Gradient energy fraction of v₁',
      description: `What moves the top update direction: the gradient (1) or weight decay (0). Below ${DECAY_DRIVEN_ENERGY}: decay-driven.`,
      lines: energy.lines.slice(0, 1),
    },
    {
      ...spec(causalCharts(config), 'causal-ablation'),
      description: `Accuracy lost when the top two directions are removed (edge) vs random pairs (grey). At −${EDGE_NECESSARY_COST} with random pairs flat, the model needs its edge.`,
    },
  ];
}
