// The run file: a run's configuration (a preset plus overrides, resolved into the exact settings trained with),
// its metric series, events, spectral records and summary, as versioned JSON with a JSON Schema that every loaded
// file is validated against (src/formats/versioned.ts). Fields added after version 2 are optional, so older files
// still load: the spectral options' gapFlow (off) and solver ('gram'), a window record's gapFlow and lanczos
// residuals, the architecture options norm ('layer') and qkNorm (off) of the overrides and the model, the
// trainFraction override, and the overrides of the modulus, the model's size, the batch and AdamW's constants. That
// a file's configuration is one the lab makes from its preset, seed and overrides is checked by src/train/run.ts
// (parseRunFile).
import { NORM_KINDS, type AnyModelConfig, type BatchShape, type NormKind } from './model-config';
import { DECAY_KINDS, LRD_PARAMS, type DecayConfig, type DecayKind, type LrdParam, type OptimConfig } from './optim';
import { MOD_OP_NAMES, PRESET_NAMES, TASK_KINDS, type ModOp, type PresetName, type TaskSpec } from './task';
import { SPECTRAL_SOLVERS, SPECTRAL_SUBSETS, type SpectralOptions, type SpectralRecord } from './spectral';
import { GROK_METRICS, HEAD_METRIC_KEYS, METRIC_KEYS, STOP_REASONS, StopReason, type EarlyStopRule, type HeadSeries, type MetricPoint, type MetricSeries, type RunEvent } from './metrics';
import { ANALYSIS_FILE_KIND, type AnalysisFile } from './analysis-file';
import { CAUSAL_RECORD_SCHEMA, LIVE_CAUSAL_OPTIONS_SCHEMA, type CausalRecord, type LiveCausalOptions } from './live-causal';
import { invalid, versionedLoader } from './versioned';

/** What a run may change relative to its preset (all optional: a missing field keeps the preset's value). */
export interface RunOverrides {
  lr?: number;
  weightDecay?: number;
  /**
   * 'l2' (default): AdamW decay on every parameter; 'lrd': Low-Rank Decay of the lrdParams matrices (default W_Q and
   * W_K) at lrdRate per step (required with 'lrd'), the other parameters keeping AdamW decay (src/formats/optim.ts).
   */
  decay?: DecayKind;
  lrdRate?: number;
  lrdParams?: LrdParam[];
  steps?: number;
  evalEvery?: number;
  /** Modular-arithmetic presets only. */
  op?: ModOp;
  /** Modular-arithmetic and multitask presets only: the fraction of all pairs that trains, in (0, 1). */
  trainFraction?: number;
  /** Modular-arithmetic and multitask presets only: the modulus, a prime (the vocabulary and classes follow). */
  p?: number;
  /** The model's size (docs/science.md §1; nLayers is each stack's in the SCAN encoder-decoder). */
  nLayers?: number;
  dModel?: number;
  nHeads?: number;
  dFF?: number;
  /** Sequences per minibatch (minibatch presets; a full-batch preset trains on the whole training set). */
  batch?: number;
  /** AdamW's other constants (docs/science.md §1: 0.9, 0.98, 1e-8, and the global gradient-norm clip 1.0). */
  beta1?: number;
  beta2?: number;
  eps?: number;
  clipNorm?: number;
  /** Off (null) unless given. */
  earlyStop?: EarlyStopRule | null;
  /** Spectral-edge settings (the preset's window, on, theta_attn, not centred, k = min(4, W) unless given). */
  spectral?: Partial<SpectralOptions>;
  /** Architecture options (docs/science.md §4, src/model/config.ts) set on the preset's model: RMSNorm, QK-norm. */
  norm?: NormKind;
  qkNorm?: boolean;
  /** Live causal probes (off unless given; the preset's defaults for the fields not given, liveCausalDefaults). */
  causal?: Partial<LiveCausalOptions>;
}

/** The exact settings of a run: the preset resolved with the overrides. */
export interface RunConfig {
  preset: PresetName;
  /** Drives initialisation, the modular-arithmetic split and minibatch sampling. */
  seed: number;
  overrides: RunOverrides;
  task: TaskSpec;
  model: AnyModelConfig;
  /** Hyperparameters at step 0 (later changes are 'hyper' events). */
  optim: OptimConfig;
  /** The weight decay (fixed for the run); absent in files written before the option existed, which read as L2. */
  decay?: DecayConfig;
  shape: BatchShape;
  batchMode: 'full' | 'minibatch';
  steps: number;
  evalEvery: number;
  earlyStop: EarlyStopRule | null;
  spectral: SpectralOptions;
  /** Live causal probes along the edge as the run trains (absent in older files and in runs that do not take them). */
  causal?: LiveCausalOptions;
}

export interface RunSummary {
  /** Optimiser steps taken. */
  steps: number;
  grokStep: number | null;
  stopReason: StopReason;
  /** The last evaluation (null when the run stopped before its first). */
  final: MetricPoint | null;
  /** Wall time spent training (including evaluations), in ms. */
  wallMs: number;
  /** The WebGPU adapter that ran it. */
  adapter: string;
}

export const RUN_FILE_KIND = 'spectral-edge-lab.run';

/** Limits of the run settings a user chooses (src/train/run.ts: resolveRunConfig). */
export const RUN_LIMITS = {
  /** Optimiser steps of a run, and the largest evaluation cadence. */
  steps: 10_000_000,
  /** The largest modulus (p^2 pairs are generated on the CPU). */
  p: 1000,
  /** The largest number of layers (of each stack). */
  nLayers: 64,
  /** The largest d_model, heads and d_ff (the adapter's buffer limits may refuse less). */
  width: 8192,
  /** The largest minibatch. */
  batch: 65_536,
} as const;

/**
 * 2: sequence-accuracy and greedy series; the grok event names its metric (and task head); multitask head series
 * (train/test loss and accuracy per head);
 * spectral-edge options and records.
 * 3: live causal probes: the config's `causal` options and the `causal` series. Version 2 files still load.
 */
export const RUN_FILE_VERSION = 3;
/** The versions this lab reads. */
export const RUN_FILE_VERSIONS = [2, RUN_FILE_VERSION] as const;

export interface RunFile {
  version: typeof RUN_FILE_VERSION;
  kind: typeof RUN_FILE_KIND;
  config: RunConfig;
  series: MetricSeries;
  events: RunEvent[];
  /** Multitask runs only: each task head's train/test loss and accuracy series. */
  heads?: HeadSeries;
  /** Runs that track the spectral edge: one record per analysed window (src/formats/spectral.ts). */
  spectral?: SpectralRecord[];
  /** Runs with live causal probes: one record per probe (src/formats/live-causal.ts). */
  causal?: CausalRecord[];
  /**
   * Causal experiments run on this run's model (src/formats/analysis-file.ts), oldest first. The run schema checks
   * only their kind; whoever shows them validates each with ANALYSIS_FILE.parse.
   */
  analyses?: AnalysisFile[];
  summary: RunSummary;
}

// ---- JSON Schema -------------------------------------------------------------------------------------------

const integer = { type: 'integer' } as const;
const stepNumber = { type: 'integer', minimum: 0 } as const;
const number = { type: 'number' } as const;
const numbers = { type: 'array', items: number } as const;
const nullableNumber = { type: ['number', 'null'] } as const;
const hyperParams = { type: 'object', required: ['lr', 'weightDecay'], properties: { lr: number, weightDecay: number } } as const;
/** One stack of the encoder-decoder model (src/model/config.ts: StackSize). */
const stackSize = {
  type: 'object',
  required: ['nLayers', 'vocabSize', 'maxPositions'],
  properties: { nLayers: integer, vocabSize: integer, maxPositions: integer },
} as const;
const lrdParams = { type: 'array', minItems: 1, items: { enum: LRD_PARAMS } } as const;
/** A DecayConfig (src/formats/optim.ts). */
const decayConfig = {
  oneOf: [
    { type: 'object', additionalProperties: false, required: ['kind'], properties: { kind: { const: 'l2' } } },
    { type: 'object', additionalProperties: false, required: ['kind', 'rate', 'params'], properties: { kind: { const: 'lrd' }, rate: number, params: lrdParams } },
  ],
} as const;
const earlyStopRule = {
  type: 'object',
  additionalProperties: false,
  required: ['testAccuracy', 'evaluations'],
  properties: { testAccuracy: number, evaluations: integer },
} as const;
const spectralOptionFields = {
  enabled: { type: 'boolean' },
  window: integer,
  snapshotEvery: integer,
  centred: { type: 'boolean' },
  subset: { enum: SPECTRAL_SUBSETS },
  k: integer,
  gapFlow: { type: 'boolean' },
  solver: { enum: SPECTRAL_SOLVERS },
} as const;
/** gapFlow and solver came later: files without them read as off and 'gram'. */
const requiredSpectralOptions = ['enabled', 'window', 'snapshotEvery', 'centred', 'subset', 'k'];
/** The gap-flow terms of a window (SpectralRecord.gapFlow). */
const gapFlowRecord = {
  type: 'object',
  additionalProperties: false,
  required: ['gap', 'curvatureAsymmetry', 'damping', 'gradientDriving', 'predicted', 'curvature', 'gradientProjection', 'observed'],
  properties: {
    gap: number,
    curvatureAsymmetry: number,
    damping: number,
    gradientDriving: number,
    predicted: number,
    curvature: numbers,
    gradientProjection: numbers,
    observed: nullableNumber,
  },
} as const;
/** The Lanczos solve of a window (SpectralRecord.lanczos, solver 'lanczos' only). */
const lanczosRecord = {
  type: 'object',
  additionalProperties: false,
  required: ['residual', 'iterations', 'converged'],
  properties: { residual: numbers, iterations: integer, converged: { type: 'boolean' } },
} as const;
/** The stable ranks of W_Q and W_K of each attention module (SpectralRecord.stableRank). */
const stableRankRecord = {
  type: 'object',
  additionalProperties: false,
  required: ['q', 'k'],
  properties: { q: numbers, k: numbers },
} as const;
/** A SpectralRecord (src/formats/spectral.ts). */
const spectralRecord = {
  type: 'object',
  additionalProperties: false,
  required: [
    'step', 'sigma', 'g23', 'kStar', 'gapRatio', 'rotationDeg', 'gradEnergyFraction', 'alignment', 'trapezoidGradEnergyFraction',
    'deltaGramNorm', 'davisKahanAlpha', 'adiabatic',
  ],
  properties: {
    step: stepNumber,
    sigma: numbers,
    g23: nullableNumber,
    kStar: { type: ['integer', 'null'] },
    gapRatio: nullableNumber,
    rotationDeg: numbers,
    gradEnergyFraction: numbers,
    alignment: numbers,
    trapezoidGradEnergyFraction: numbers,
    deltaGramNorm: nullableNumber,
    davisKahanAlpha: numbers,
    adiabatic: nullableNumber,
    gapFlow: gapFlowRecord,
    lanczos: lanczosRecord,
    stableRank: stableRankRecord,
  },
} as const;
const metricPoint = {
  type: 'object',
  additionalProperties: false,
  required: [...METRIC_KEYS],
  properties: Object.fromEntries(METRIC_KEYS.map((k) => [k, k === 'step' ? stepNumber : number])),
} as const;


/** The schema of a run's overrides (RunOverrides), each property's. */
export const RUN_OVERRIDES_PROPERTIES = {
  lr: number,
  weightDecay: number,
  decay: { enum: DECAY_KINDS },
  lrdRate: number,
  lrdParams,
  steps: integer,
  evalEvery: integer,
  op: { enum: MOD_OP_NAMES },
  trainFraction: number,
  p: integer,
  nLayers: integer,
  dModel: integer,
  nHeads: integer,
  dFF: integer,
  batch: integer,
  beta1: number,
  beta2: number,
  eps: number,
  clipNorm: number,
  earlyStop: { oneOf: [{ type: 'null' }, earlyStopRule] },
  spectral: { type: 'object', additionalProperties: false, properties: spectralOptionFields },
  norm: { enum: NORM_KINDS },
  qkNorm: { type: 'boolean' },
  causal: { type: 'object', additionalProperties: false, properties: LIVE_CAUSAL_OPTIONS_SCHEMA.properties },
} as const;

/** JSON Schema (draft 7) of a run file of the versions RUN_FILE_VERSIONS. */
export const RUN_SCHEMA = {
  $schema: 'http://json-schema.org/draft-07/schema#',
  title: 'Spectral Edge Lab run file',
  type: 'object',
  additionalProperties: false,
  required: ['version', 'kind', 'config', 'series', 'events', 'summary'],
  properties: {
    version: { enum: RUN_FILE_VERSIONS },
    kind: { const: RUN_FILE_KIND },
    config: {
      type: 'object',
      additionalProperties: false,
      required: ['preset', 'seed', 'overrides', 'task', 'model', 'optim', 'shape', 'batchMode', 'steps', 'evalEvery', 'earlyStop', 'spectral'],
      properties: {
        preset: { enum: PRESET_NAMES },
        seed: integer,
        overrides: { type: 'object', additionalProperties: false, properties: RUN_OVERRIDES_PROPERTIES },
        task: {
          type: 'object',
          required: ['kind'],
          properties: {
            kind: { enum: TASK_KINDS },
            p: integer,
            op: { enum: MOD_OP_NAMES },
            ops: { type: 'array', minItems: 1, items: { enum: MOD_OP_NAMES } },
            trainFraction: number,
          },
        },
        // Model and optimiser configs are owned by the engine and may gain fields; the ones below are required.
        // Either model kind: encoder-only, or encoder-decoder (kind 'encoder-decoder', one size block per stack).
        model: {
          type: 'object',
          required: ['dModel', 'nHeads', 'dFF', 'nClasses', 'posInitStd'],
          properties: {
            dModel: integer, nHeads: integer, dFF: integer, nClasses: integer, padToken: integer, posInitStd: number,
            norm: { enum: NORM_KINDS }, qkNorm: { type: 'boolean' },
          },
          oneOf: [
            {
              required: ['nLayers', 'vocabSize', 'maxPositions', 'causal'],
              properties: { kind: false, nLayers: integer, vocabSize: integer, maxPositions: integer, causal: { type: 'boolean' }, taskHeads: integer },
            },
            {
              required: ['kind', 'encoder', 'decoder', 'padToken'],
              properties: { kind: { const: 'encoder-decoder' }, encoder: stackSize, decoder: stackSize },
            },
          ],
        },
        optim: {
          type: 'object',
          required: ['lr', 'weightDecay', 'beta1', 'beta2', 'eps', 'clipNorm'],
          properties: { lr: number, weightDecay: number, beta1: number, beta2: number, eps: number, clipNorm: number },
        },
        shape: {
          type: 'object',
          required: ['batch', 'seqLen', 'readout'],
          properties: {
            batch: integer,
            seqLen: integer,
            sourceLen: integer,
            readout: { type: 'object', required: ['start', 'count'], properties: { start: integer, count: integer } },
          },
        },
        decay: decayConfig,
        batchMode: { enum: ['full', 'minibatch'] },
        steps: integer,
        evalEvery: integer,
        earlyStop: { oneOf: [{ type: 'null' }, earlyStopRule] },
        spectral: { type: 'object', additionalProperties: false, required: requiredSpectralOptions, properties: spectralOptionFields },
        causal: LIVE_CAUSAL_OPTIONS_SCHEMA,
      },
    },
    series: {
      type: 'object',
      additionalProperties: false,
      required: [...METRIC_KEYS],
      properties: Object.fromEntries(METRIC_KEYS.map((k) => [k, k === 'step' ? { type: 'array', items: stepNumber } : numbers])),
    },
    events: {
      type: 'array',
      items: {
        type: 'object',
        required: ['type'],
        discriminator: { propertyName: 'type' },
        oneOf: [
          {
            additionalProperties: false,
            required: ['type', 'step', 'metric', 'value'],
            properties: { type: { const: 'grok' }, step: stepNumber, metric: { enum: GROK_METRICS }, value: number, head: { type: 'string' } },
          },
          {
            additionalProperties: false,
            required: ['type', 'step', 'before', 'after'],
            properties: { type: { const: 'hyper' }, step: stepNumber, before: hyperParams, after: hyperParams },
          },
          {
            additionalProperties: false,
            required: ['type', 'step', 'restoredStep', 'message'],
            properties: { type: { const: 'divergence' }, step: stepNumber, restoredStep: stepNumber, message: { type: 'string' } },
          },
        ],
      },
    },
    spectral: { type: 'array', items: spectralRecord },
    causal: { type: 'array', items: CAUSAL_RECORD_SCHEMA },
    analyses: { type: 'array', items: { type: 'object', required: ['kind'], properties: { kind: { const: ANALYSIS_FILE_KIND } } } },
    heads: {
      type: 'object',
      additionalProperties: false,
      required: ['names', ...HEAD_METRIC_KEYS],
      properties: {
        names: { type: 'array', items: { type: 'string' } },
        ...Object.fromEntries(HEAD_METRIC_KEYS.map((k) => [k, { type: 'array', items: numbers }])),
      },
    },
    summary: {
      type: 'object',
      additionalProperties: false,
      required: ['steps', 'grokStep', 'stopReason', 'final', 'wallMs', 'adapter'],
      properties: {
        steps: stepNumber,
        grokStep: { oneOf: [{ type: 'null' }, stepNumber] },
        stopReason: { enum: STOP_REASONS },
        final: { oneOf: [{ type: 'null' }, metricPoint] },
        wallMs: number,
        adapter: { type: 'string' },
      },
    },
  },
} as const;

// ---- Loading -----------------------------------------------------------------------------------------------

/** Lengths that must agree (every series as long as series.step), steps in order: what the schema cannot say. */
function checkRunFile(run: RunFile): void {
  const n = run.series.step.length;
  for (const k of METRIC_KEYS) {
    if (run.series[k].length !== n) throw invalid(`series.${k}`, run.series[k], `must hold one value per evaluation (series.step has ${n})`);
  }
  run.series.step.forEach((step, i) => {
    if (i > 0 && step <= run.series.step[i - 1]) throw invalid(`series.step[${i}]`, step, `must come after series.step[${i - 1}] (${run.series.step[i - 1]})`);
  });
  const last = run.series.step.at(-1);
  if (last !== undefined && last > run.config.steps) throw invalid(`series.step[${n - 1}]`, last, `must be at most config.steps (${run.config.steps})`);
  const { heads } = run;
  if (heads) {
    for (const k of HEAD_METRIC_KEYS) {
      if (heads[k].length !== heads.names.length) throw invalid(`heads.${k}`, heads[k], `must hold one series per head (${heads.names.length})`);
      heads[k].forEach((series, h) => {
        if (series.length !== n) throw invalid(`heads.${k}[${h}]`, series, `must hold one value per evaluation (series.step has ${n})`);
      });
    }
  }
}

/** The run file's loader (kind, version, schema, lengths); src/train/run.ts adds the configuration check. */
export const RUN_FILE = versionedLoader<RunFile>({ name: 'run file', kind: RUN_FILE_KIND, versions: RUN_FILE_VERSIONS, schema: RUN_SCHEMA, check: checkRunFile });
