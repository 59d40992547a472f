// The run: its configuration (a preset plus overrides, resolved into the exact settings trained with), and the
// run file that records it (config, metric series, events, summary) as JSON, with a JSON Schema that every
// loaded file is validated against. Fields added after version 2 are optional, so older files still load: the
// spectral options' gapFlow (off) and solver ('gram'), a window record's gapFlow and lanczos residuals, the
// architecture options norm ('layer') and qkNorm (off) of the overrides and the model, the trainFraction override.
import Ajv, { type ErrorObject } from 'ajv';
import { NORM_KINDS, validateModelConfig, type AnyModelConfig, type NormKind } from '../model/config';
import type { BatchShape } from '../model/batch';
import { MOD_OPS, type ModOp } from '../tasks/modarith';
import { validateOptimConfig, type OptimConfig } from './optim-config';
import { DECAY_KINDS, DEFAULT_LRD_PARAMS, L2_DECAY, LRD_PARAMS, validateDecayConfig, type DecayConfig, type DecayKind, type LrdParam } from './decay';
import { PRESETS, buildTaskData, isPresetName, type PresetName, type TaskData, type TaskSpec } from './presets';
import { spectralDefaults, validateSpectralOptions, type SpectralOptions } from '../spectral/options';
import type { SpectralRecord } from '../spectral/record';
import { CAUSAL_RECORD_SCHEMA, LIVE_CAUSAL_OPTIONS_SCHEMA, LiveCausalOptionsError, validateLiveCausalOptions, type CausalRecord, type LiveCausalOptions } from '../formats/live-causal';
import { liveCausalDefaults } from './live-causal-defaults';
import type { AnalysisFile, ANALYSIS_FILE_KIND } from '../analysis/analysis-file';
import { HEAD_METRIC_KEYS, METRIC_KEYS, type EarlyStopRule, type HeadSeries, type MetricPoint, type MetricSeries, type RunEvent } from './metrics';

/** What a run may change relative to its preset (all optional: a missing field keeps the preset's value). */
export interface RunOverrides {
  lr?: number;
  weightDecay?: number;
  /**
   * 'l2' (default): AdamW decay on every parameter; 'lrd': Low-Rank Decay of the lrdParams matrices (default W_Q and
   * W_K) at lrdRate per step (required with 'lrd'), the other parameters keeping AdamW decay (src/train/decay.ts).
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
  /** Off (null) unless given. */
  earlyStop?: EarlyStopRule | null;
  /** Spectral-edge settings (the preset's window, on, theta_attn, not centred, k = min(4, W) unless given). */
  spectral?: Partial<SpectralOptions>;
  /** Architecture options (SPEC §4, src/model/config.ts) set on the preset's model: RMSNorm, QK-norm. */
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

export type StopReason = 'completed' | 'early-stop' | 'diverged' | 'interrupted';

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
/**
 * 2: sequence-accuracy and greedy series; the grok event names its metric (and task head); multitask head series
 * (train/test loss and accuracy per head);
 * spectral-edge options and records.
 * 3: live causal probes: the config's `causal` options and the `causal` series. Version 2 files still load.
 */
export const RUN_FILE_VERSION = 3;
/** The versions parseRunFile reads (a version 2 file is a version 3 file without live causal probes). */
const READABLE_RUN_FILE_VERSIONS: readonly number[] = [2, RUN_FILE_VERSION];

export interface RunFile {
  version: typeof RUN_FILE_VERSION;
  kind: typeof RUN_FILE_KIND;
  config: RunConfig;
  series: MetricSeries;
  events: RunEvent[];
  /** Multitask runs only: each task head's train/test loss and accuracy series. */
  heads?: HeadSeries;
  /** Runs that track the spectral edge: one record per analysed window (src/spectral/record.ts). */
  spectral?: SpectralRecord[];
  /** Runs with live causal probes: one record per probe (src/formats/live-causal.ts). */
  causal?: CausalRecord[];
  /**
   * Causal experiments run on this run's model (src/analysis/analysis-file.ts), oldest first. The run schema checks
   * only their kind; whoever shows them validates each with parseAnalysisFile (that module depends on the trainer,
   * which depends on this one).
   */
  analyses?: AnalysisFile[];
  summary: RunSummary;
}

export class RunConfigError extends Error {
  override name = 'RunConfigError';
}

/**
 * Resolves a preset and overrides into a run configuration, checking every override (the message names it).
 * Full-batch presets train on the whole training set, so their batch size is the training set's size, which
 * depends on the task (e.g. on `op`).
 */
export function resolveRunConfig(preset: string, seed: number, overrides: RunOverrides): RunConfig {
  if (!isPresetName(preset)) throw new RunConfigError(`unknown preset "${preset}"; choose from ${Object.keys(PRESETS).join(', ')}`);
  const p = PRESETS[preset];
  if (!Number.isInteger(seed) || seed < 0 || seed > 0xffffffff) throw new RunConfigError(`seed must be an integer in [0, 2^32), got ${seed}`);
  const positiveInt = (name: string, v: number | undefined) => {
    if (v !== undefined && !(Number.isInteger(v) && v > 0)) throw new RunConfigError(`${name} must be a positive integer, got ${v}`);
  };
  positiveInt('steps', overrides.steps);
  positiveInt('evalEvery', overrides.evalEvery);
  const { earlyStop } = overrides;
  if (earlyStop) {
    positiveInt('earlyStop.evaluations', earlyStop.evaluations);
    if (!(earlyStop.testAccuracy > 0 && earlyStop.testAccuracy <= 1)) {
      throw new RunConfigError(`earlyStop.testAccuracy must be in (0, 1], got ${earlyStop.testAccuracy}`);
    }
  }

  let task = p.task;
  if (overrides.op !== undefined) {
    if (task.kind !== 'modarith') throw new RunConfigError(`op applies to modular-arithmetic presets only, not ${preset}`);
    if (!Object.hasOwn(MOD_OPS, overrides.op)) throw new RunConfigError(`unknown op "${overrides.op}"; choose from ${Object.keys(MOD_OPS).join(', ')}`);
    task = { ...task, op: overrides.op };
  }
  if (overrides.trainFraction !== undefined) {
    const f = overrides.trainFraction;
    if (task.kind !== 'modarith' && task.kind !== 'multitask') throw new RunConfigError(`trainFraction applies to modular-arithmetic and multitask presets only, not ${preset}`);
    if (!(f > 0 && f < 1)) throw new RunConfigError(`trainFraction must be in (0, 1), got ${f}`);
    task = { ...task, trainFraction: f };
  }

  const optim = { ...p.optim, lr: overrides.lr ?? p.optim.lr, weightDecay: overrides.weightDecay ?? p.optim.weightDecay };
  try {
    validateOptimConfig(optim);
  } catch (err) {
    throw new RunConfigError((err as Error).message);
  }
  const decay = resolveDecay(overrides);

  const spectral = resolveSpectral(p.spectral, overrides.spectral);
  let data: TaskData | undefined;
  const taskData = () => (data ??= buildTaskData(task, seed));
  const shape = p.batchMode === 'full' ? { ...p.shape, batch: taskData().trainCount } : p.shape;
  const causal = overrides.causal && resolveCausal(preset, testSequenceCount(taskData(), task, p.shape.readout.count), spectral, overrides.causal);
  return {
    preset,
    seed,
    overrides: structuredClone(overrides),
    task,
    model: withArchitecture(p.model, overrides),
    optim,
    decay,
    shape,
    batchMode: p.batchMode,
    steps: overrides.steps ?? p.steps,
    evalEvery: overrides.evalEvery ?? p.evalEvery,
    earlyStop: earlyStop ?? null,
    spectral,
    ...(causal && { causal }),
  };
}

/** Test sequences of a task's data: targets per sequence are the readout positions times the task heads. */
function testSequenceCount(data: TaskData, task: TaskSpec, readoutCount: number): number {
  return data.test.targets.length / readoutCount / (task.kind === 'multitask' ? task.ops.length : 1);
}

/** The live causal options: the preset's defaults under the given fields, checked against the run's window and test set. */
function resolveCausal(preset: PresetName, testSequences: number, spectral: SpectralOptions, given: Partial<LiveCausalOptions>): LiveCausalOptions {
  const options = { ...liveCausalDefaults(preset, spectral.snapshotEvery, testSequences), enabled: true, ...given };
  try {
    validateLiveCausalOptions(options, { snapshotEvery: spectral.snapshotEvery, testSequences, spectralEnabled: spectral.enabled, edgeVectors: spectral.k });
  } catch (err) {
    if (err instanceof LiveCausalOptionsError) throw new RunConfigError(err.message);
    throw err;
  }
  return options;
}

/** The preset's model with the architecture options the overrides give (the model itself when they give none). */
function withArchitecture(model: AnyModelConfig, { norm, qkNorm }: RunOverrides): AnyModelConfig {
  if (norm === undefined && qkNorm === undefined) return model;
  const out = { ...model, ...(norm !== undefined && { norm }), ...(qkNorm !== undefined && { qkNorm }) };
  try {
    validateModelConfig(out);
  } catch (err) {
    throw new RunConfigError((err as Error).message);
  }
  return out;
}

/** The decay the overrides ask for; the Low-Rank Decay options are an error without decay 'lrd'. */
function resolveDecay({ decay, lrdRate, lrdParams }: RunOverrides): DecayConfig {
  if (decay !== undefined && !DECAY_KINDS.includes(decay)) throw new RunConfigError(`unknown decay "${String(decay)}"; choose from ${DECAY_KINDS.join(', ')}`);
  if (decay !== 'lrd') {
    const given = [lrdRate !== undefined && 'lrdRate', lrdParams !== undefined && 'lrdParams'].filter(Boolean);
    if (given.length > 0) throw new RunConfigError(`${given.join(' and ')} ${given.length > 1 ? 'apply' : 'applies'} to decay 'lrd' (Low-Rank Decay) only`);
    return { ...L2_DECAY };
  }
  if (lrdRate === undefined) throw new RunConfigError("decay 'lrd' needs lrdRate: each step W <- W - lrdRate * polar(W)");
  const out: DecayConfig = { kind: 'lrd', rate: lrdRate, params: [...(lrdParams ?? DEFAULT_LRD_PARAMS)] };
  try {
    validateDecayConfig(out);
  } catch (err) {
    throw new RunConfigError((err as Error).message);
  }
  return out;
}

function resolveSpectral(preset: { window: number; snapshotEvery: number }, overrides: Partial<SpectralOptions> = {}): SpectralOptions {
  const window = overrides.window ?? preset.window;
  const options = { ...spectralDefaults(window, preset.snapshotEvery), ...overrides };
  try {
    validateSpectralOptions(options);
  } catch (err) {
    throw new RunConfigError((err as Error).message);
  }
  return options;
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
/** A DecayConfig (src/train/decay.ts). */
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
  subset: { enum: ['attn', 'all'] },
  k: integer,
  gapFlow: { type: 'boolean' },
  solver: { enum: ['gram', 'lanczos'] },
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
/** A SpectralRecord (src/spectral/record.ts). */
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

const ANALYSIS_KIND: typeof ANALYSIS_FILE_KIND = 'spectral-edge-lab.analysis';

/** JSON Schema (draft 7) of a run file of version RUN_FILE_VERSION. */
export const RUN_SCHEMA = {
  $schema: 'http://json-schema.org/draft-07/schema#',
  title: 'Spectral Edge Lab run file',
  type: 'object',
  additionalProperties: false,
  required: ['version', 'kind', 'config', 'series', 'events', 'summary'],
  properties: {
    version: { enum: READABLE_RUN_FILE_VERSIONS },
    kind: { const: RUN_FILE_KIND },
    config: {
      type: 'object',
      additionalProperties: false,
      required: ['preset', 'seed', 'overrides', 'task', 'model', 'optim', 'shape', 'batchMode', 'steps', 'evalEvery', 'earlyStop', 'spectral'],
      properties: {
        preset: { enum: Object.keys(PRESETS) },
        seed: integer,
        overrides: {
          type: 'object',
          additionalProperties: false,
          properties: {
            lr: number,
            weightDecay: number,
            decay: { enum: DECAY_KINDS },
            lrdRate: number,
            lrdParams,
            steps: integer,
            evalEvery: integer,
            op: { enum: Object.keys(MOD_OPS) },
            trainFraction: number,
            earlyStop: { oneOf: [{ type: 'null' }, earlyStopRule] },
            spectral: { type: 'object', additionalProperties: false, properties: spectralOptionFields },
            norm: { enum: NORM_KINDS },
            qkNorm: { type: 'boolean' },
            causal: { type: 'object', additionalProperties: false, properties: LIVE_CAUSAL_OPTIONS_SCHEMA.properties },
          },
        },
        task: {
          type: 'object',
          required: ['kind'],
          properties: {
            kind: { enum: ['modarith', 'multitask', 'dyck', 'scan'] },
            p: integer,
            op: { enum: Object.keys(MOD_OPS) },
            ops: { type: 'array', minItems: 1, items: { enum: Object.keys(MOD_OPS) } },
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
            properties: { type: { const: 'grok' }, step: stepNumber, metric: { enum: ['testAcc', 'testSeqAcc', 'minHeadTestAcc'] }, value: number, head: { type: 'string' } },
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
    analyses: { type: 'array', items: { type: 'object', required: ['kind'], properties: { kind: { const: ANALYSIS_KIND } } } },
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
        stopReason: { enum: ['completed', 'early-stop', 'diverged', 'interrupted'] },
        final: { oneOf: [{ type: 'null' }, metricPoint] },
        wallMs: number,
        adapter: { type: 'string' },
      },
    },
  },
} as const;

// ---- Loading -----------------------------------------------------------------------------------------------

export class RunFileError extends Error {
  override name = 'RunFileError';
}

let validator: ReturnType<Ajv['compile']> | undefined;
function validateSchema(data: unknown): ErrorObject[] {
  validator ??= new Ajv({ allErrors: true, discriminator: true }).compile(RUN_SCHEMA);
  return validator(data) ? [] : (validator.errors ?? []);
}

/** "/series/testAcc/3" -> "series.testAcc[3]" (the root is "(root)"). */
function readablePath(instancePath: string): string {
  const parts = instancePath.split('/').slice(1);
  const path = parts.map((p, i) => (/^\d+$/.test(p) ? `[${p}]` : i === 0 ? p : `.${p}`)).join('');
  return path || '(root)';
}

const EVENT_TYPES = RUN_SCHEMA.properties.events.items.oneOf.map((branch) => branch.properties.type.const);

function describeError(e: ErrorObject): string {
  const path = readablePath(e.instancePath);
  switch (e.keyword) {
    case 'additionalProperties':
      return `${path}: ${e.message} (${String(e.params.additionalProperty)})`;
    case 'enum':
      return `${path}: ${e.message} (${(e.params.allowedValues as unknown[]).join(', ')})`;
    case 'discriminator':
      // Ajv says 'value of tag "type" must be in oneOf'; name the field and the allowed values instead.
      return `${path}.${String(e.params.tag)}: must be one of ${EVENT_TYPES.join(', ')}, got ${JSON.stringify(e.params.tagValue)}`;
    default:
      return `${path}: ${e.message ?? e.keyword}`;
  }
}

/**
 * Parses and validates a run file (JSON text or an already parsed value). Throws a RunFileError naming the
 * first few problems by path, e.g. "series.testAcc[3]: must be number".
 */
export function parseRunFile(input: string | unknown): RunFile {
  let data: unknown = input;
  if (typeof input === 'string') {
    try {
      data = JSON.parse(input);
    } catch (err) {
      throw new RunFileError(`not JSON: ${(err as Error).message}`);
    }
  }
  if (typeof data !== 'object' || data === null || Array.isArray(data)) throw new RunFileError('a run file is a JSON object');
  const { kind, version } = data as { kind?: unknown; version?: unknown };
  if (kind !== RUN_FILE_KIND) throw new RunFileError(`not a Spectral Edge Lab run file: kind is ${JSON.stringify(kind)}, expected "${RUN_FILE_KIND}"`);
  if (typeof version !== 'number' || !READABLE_RUN_FILE_VERSIONS.includes(version)) {
    throw new RunFileError(`unsupported run file version ${JSON.stringify(version)}; this lab reads versions ${READABLE_RUN_FILE_VERSIONS.join(' and ')}`);
  }
  const errors = validateSchema(data);
  if (errors.length > 0) {
    const shown = errors.slice(0, 5).map(describeError);
    if (errors.length > shown.length) shown.push(`... and ${errors.length - shown.length} more`);
    throw new RunFileError(`invalid run file: ${shown.join('; ')}`);
  }
  const run = data as RunFile;
  const n = run.series.step.length;
  for (const k of METRIC_KEYS) {
    if (run.series[k].length !== n) throw new RunFileError(`invalid run file: series.${k} has ${run.series[k].length} values, series.step ${n}`);
  }
  const { heads } = run;
  if (heads) {
    for (const k of HEAD_METRIC_KEYS) {
      if (heads[k].length !== heads.names.length) throw new RunFileError(`invalid run file: heads.${k} has ${heads[k].length} series for ${heads.names.length} heads`);
      heads[k].forEach((series, h) => {
        if (series.length !== n) throw new RunFileError(`invalid run file: heads.${k}[${h}] has ${series.length} values, series.step ${n}`);
      });
    }
  }
  // A version 2 file is a version 3 file without live causal probes.
  return { ...run, version: RUN_FILE_VERSION };
}
