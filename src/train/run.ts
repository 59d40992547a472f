// The run's configuration: a preset plus overrides, resolved into the exact settings trained with
// (resolveRunConfig, the one path the CLI, the page's form and a shared link all take), and the run file's loader,
// which accepts a configuration only if it is the one that path makes from the file's preset, seed and overrides
// (so a file cannot ask for a model, task or optimiser the lab would not build: p = 30,011, lr = -1, ...). The file
// format itself (types, schema, versions) is src/formats/run-file.ts.
import { validateModelConfig } from '../model/config';
import type { AnyModelConfig, ModelSize } from '../formats/model-config';
import { MOD_OPS, isPrime, modularPairCount } from '../tasks/modarith';
import { validateOptimConfig, DECAY_KINDS, type OptimConfig, DEFAULT_LRD_PARAMS, L2_DECAY, validateDecayConfig, type DecayConfig } from '../formats/optim';
import { PRESETS, PRESET_SIZES, buildTaskData, taskModel, type TaskData } from './presets';
import { isPresetName, PRESET_NAMES, type PresetName, type TaskSpec } from '../formats/task';
import { spectralDefaults, validateSpectralOptions } from '../spectral/options';
import type { SpectralOptions } from '../formats/spectral';
import { RUN_FILE, RUN_FILE_VERSION, RUN_LIMITS, type RunConfig, type RunFile, type RunOverrides } from '../formats/run-file';
import { LiveCausalOptionsError, validateLiveCausalOptions, type LiveCausalOptions } from '../formats/live-causal';
import { liveCausalDefaults } from './live-causal-defaults';
import { FormatError, firstDifference, invalid } from '../formats/versioned';

export class RunConfigError extends Error {
  override name = 'RunConfigError';
}

/**
 * Resolves a preset and overrides into a run configuration, checking every override (the message names it).
 * Full-batch presets train on the whole training set, so their batch size is the training set's size, which
 * depends on the task (e.g. on `op`).
 */
export function resolveRunConfig(preset: string, seed: number, overrides: RunOverrides): RunConfig {
  if (!isPresetName(preset)) throw new RunConfigError(`unknown preset "${preset}"; choose from ${PRESET_NAMES.join(', ')}`);
  const p = PRESETS[preset];
  if (!Number.isInteger(seed) || seed < 0 || seed > 0xffffffff) throw new RunConfigError(`seed must be an integer in [0, 2^32), got ${seed}`);
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
  if (overrides.p !== undefined) {
    if (task.kind !== 'modarith' && task.kind !== 'multitask') throw new RunConfigError(`p applies to modular-arithmetic and multitask presets only, not ${preset}`);
    positiveInt('p', overrides.p, RUN_LIMITS.p);
    if (overrides.p < 3 || !isPrime(overrides.p)) throw new RunConfigError(`p must be a prime from 3 to ${RUN_LIMITS.p}, got ${overrides.p}`);
    task = { ...task, p: overrides.p };
  }

  const optim = { ...p.optim, ...definedFields(overrides, OPTIM_OVERRIDES) };
  try {
    validateOptimConfig(optim);
  } catch (err) {
    throw new RunConfigError((err as Error).message);
  }
  const decay = resolveDecay(overrides);

  const spectral = resolveSpectral(p.spectral, overrides.spectral);
  let data: TaskData | undefined;
  const taskData = () => (data ??= buildTaskData(task, seed));
  if (task.kind === 'modarith' || task.kind === 'multitask') {
    const pairs = modularPairCount(task.p, task.kind, task.kind === 'modarith' ? task.op : undefined);
    if (Math.floor(task.trainFraction * pairs) === 0) throw new RunConfigError(`trainFraction ${task.trainFraction} of the ${pairs} pairs mod ${task.p} leaves no pair to train on; raise it`);
  }
  if (overrides.batch !== undefined) {
    if (p.batchMode === 'full') throw new RunConfigError(`batch applies to minibatch presets only; ${preset} trains on its whole training set every step`);
    positiveInt('batch', overrides.batch, RUN_LIMITS.batch);
  }
  const shape = p.batchMode === 'full' ? { ...p.shape, batch: taskData().trainCount } : overrides.batch !== undefined ? { ...p.shape, batch: overrides.batch } : p.shape;
  const causal = overrides.causal && resolveCausal(preset, testSequenceCount(taskData(), task, p.shape.readout.count), spectral, overrides.causal);
  return {
    preset,
    seed,
    overrides: structuredClone(overrides),
    task,
    model: resolveModel(preset, overrides),
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
export function testSequenceCount(data: TaskData, task: TaskSpec, readoutCount: number): number {
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

/** Throws a RunConfigError naming `name` unless `v` (when given) is an integer in [1, max]. */
function positiveInt(name: string, v: number | undefined, max: number = RUN_LIMITS.steps): void {
  if (v !== undefined && !(Number.isInteger(v) && v > 0 && v <= max)) throw new RunConfigError(`${name} must be an integer in [1, ${max}], got ${v}`);
}

/** The overrides of AdamW's settings (every field of OptimConfig). */
const OPTIM_OVERRIDES = ['lr', 'weightDecay', 'beta1', 'beta2', 'eps', 'clipNorm'] as const satisfies readonly (keyof OptimConfig)[];
const SIZE_OVERRIDES = ['nLayers', 'dModel', 'nHeads', 'dFF'] as const satisfies readonly (keyof ModelSize)[];

/** The fields of `overrides` among `keys` that are set. */
function definedFields<K extends keyof RunOverrides>(overrides: RunOverrides, keys: readonly K[]): Pick<RunOverrides, K> {
  return Object.fromEntries(keys.filter((k) => overrides[k] !== undefined).map((k) => [k, overrides[k]])) as Pick<RunOverrides, K>;
}

/**
 * The model a run of `preset` with `overrides` trains: the preset's model itself unless they change its size, the
 * modulus or the architecture (resolveRunConfig checks the modulus; a bad size is a RunConfigError naming it).
 */
export function resolveModel(preset: PresetName, overrides: RunOverrides): AnyModelConfig {
  return withArchitecture(resize(preset, overrides), overrides);
}

/** The model of the run's task at the size the overrides give (the preset's model when they change neither). */
function resize(preset: PresetName, overrides: RunOverrides): AnyModelConfig {
  const sizes = definedFields(overrides, SIZE_OVERRIDES);
  if (Object.keys(sizes).length === 0 && overrides.p === undefined) return PRESETS[preset].model;
  const presetTask = PRESETS[preset].task;
  const task = overrides.p !== undefined && (presetTask.kind === 'modarith' || presetTask.kind === 'multitask') ? { ...presetTask, p: overrides.p } : presetTask;
  for (const [field, v] of Object.entries(sizes)) positiveInt(field, v, field === 'nLayers' ? RUN_LIMITS.nLayers : RUN_LIMITS.width);
  const model = taskModel(task, { ...PRESET_SIZES[preset], ...sizes });
  try {
    validateModelConfig(model);
  } catch (err) {
    throw new RunConfigError((err as Error).message);
  }
  return model;
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

/**
 * Parses and checks a run file (JSON text or a parsed value): kind, version, schema and lengths
 * (src/formats/run-file.ts), then its configuration, which must be the one resolveRunConfig makes from the file's
 * preset, seed and overrides. Throws a one-line FormatError naming the first bad path, its value and what is allowed.
 */
export function parseRunFile(input: string | unknown): RunFile {
  const run = RUN_FILE.parse(input);
  try {
    checkRunConfig(run.config);
  } catch (err) {
    if (err instanceof FormatError) throw new FormatError(`invalid run file: ${err.message}`);
    throw err;
  }
  // A version 2 file is a version 3 file without live causal probes.
  return { ...run, version: RUN_FILE_VERSION };
}

/** Throws a FormatError unless `config` is what resolveRunConfig makes of its preset, seed and overrides. */
export function checkRunConfig(config: RunConfig): void {
  let made: RunConfig;
  try {
    made = resolveRunConfig(config.preset, config.seed, config.overrides);
  } catch (err) {
    if (err instanceof RunConfigError) throw new FormatError(`config.overrides: ${err.message}`);
    throw err;
  }
  const difference = firstDifference(withDefaults(config), withDefaults(made), 'config');
  if (difference) throw invalid(difference.path, difference.found, `preset ${config.preset} with seed ${config.seed} and the file's overrides gives ${JSON.stringify(difference.expected)}`);
}

/** Fields older files leave out, filled with what they meant (so those files still compare equal). */
function withDefaults(config: RunConfig): RunConfig {
  return { ...config, decay: config.decay ?? { ...L2_DECAY }, spectral: { gapFlow: false, solver: 'gram', ...config.spectral } };
}
