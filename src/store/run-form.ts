// The run form as plain strings (what the inputs hold), its defaults for each preset, and its validation into a
// start request: every field gets its own message, in words, before anything reaches the worker. Only values
// that differ from the preset's become overrides, so a link or a run file names just what was changed. The live
// causal probes' options are blank unless set: blank is the engine's default for the run (liveCausalDefaults).
import { PRESETS, PRESET_SIZES, buildTaskData } from '../train/presets';
import { isPresetName, type PresetName, type ModOp, type TaskSpec } from '../formats/task';
import { MOD_OPS, isPrime, modularPairCount } from '../tasks/modarith';
import { RUN_LIMITS, type RunOverrides } from '../formats/run-file';
import { NORM_KINDS } from '../formats/model-config';
import { DECAY_KINDS, DEFAULT_LRD_PARAMS, LRD_PARAMS, type LrdParam } from '../formats/optim';
import { resolveModel, testSequenceCount } from '../train/run';
import { buildParamTable } from '../model/params';
import { liveCausalDefaults } from '../train/live-causal-defaults';
import { LIVE_CAUSAL_LIMITS, type LiveCausalOptions } from '../formats/live-causal';

export const FORM_FIELDS = [
  'seed', 'lr', 'weightDecay', 'decay', 'lrdRate', 'lrdParams', 'steps', 'evalEvery', 'op', 'window', 'snapshotEvery', 'gapFlow',
  'causal', 'causalEvery', 'causalSequences', 'causalRandom', 'causalEps',
  'p', 'trainFraction', 'batch', 'nLayers', 'dModel', 'nHeads', 'dFF', 'norm', 'qkNorm', 'beta1', 'beta2', 'adamEps', 'clipNorm',
] as const;
export type FormField = (typeof FORM_FIELDS)[number];

export interface RunForm {
  preset: PresetName;
  /** Every field as typed (strings: an input may hold something that is not a number yet). */
  values: Record<FormField, string>;
}

export type FormErrors = Partial<Record<FormField, string>>;

export const DEFAULT_PRESET: PresetName = 'quick-add';
export const DEFAULT_SEED = 1;

/** The preset's own values in the form (classroom mode: with the live causal probes on). */
export function presetDefaults(preset: PresetName, classroom = false): Record<FormField, string> {
  const p = PRESETS[preset];
  const size = PRESET_SIZES[preset];
  const modular = modularTask(preset);
  return {
    seed: String(DEFAULT_SEED),
    lr: String(p.optim.lr),
    weightDecay: String(p.optim.weightDecay),
    decay: 'l2',
    lrdRate: String(DEFAULT_LRD_RATE),
    lrdParams: DEFAULT_LRD_PARAMS.join(','),
    steps: String(p.steps),
    evalEvery: String(p.evalEvery),
    op: p.task.kind === 'modarith' ? p.task.op : '',
    window: String(p.spectral.window),
    snapshotEvery: String(p.spectral.snapshotEvery),
    gapFlow: 'off',
    causal: causalDefault(classroom),
    causalEvery: '',
    causalSequences: '',
    causalRandom: '',
    causalEps: '',
    p: modular ? String(modular.p) : '',
    trainFraction: modular ? String(modular.trainFraction) : '',
    batch: p.batchMode === 'minibatch' ? String(p.shape.batch) : '',
    nLayers: String(size.nLayers),
    dModel: String(size.dModel),
    nHeads: String(size.nHeads),
    dFF: String(size.dFF),
    norm: 'layer',
    qkNorm: 'off',
    beta1: String(p.optim.beta1),
    beta2: String(p.optim.beta2),
    adamEps: String(p.optim.eps),
    clipNorm: String(p.optim.clipNorm),
  };
}

/** The live causal probes are on by default in classroom mode, off otherwise. */
export const causalDefault = (classroom: boolean) => (classroom ? 'on' : 'off');

/** The Low-Rank Decay rate the form offers when Low-Rank Decay is picked (about L2's lr * wd on quick-add). */
export const DEFAULT_LRD_RATE = 0.01;

/** The gap-flow terms (curvature along the edge) cost extra passes per window, so they are off unless asked for. */
export const GAP_FLOW_VALUES = ['off', 'on'] as const;

export function defaultForm(preset: PresetName = DEFAULT_PRESET, classroom = false): RunForm {
  return { preset, values: presetDefaults(preset, classroom) };
}

/** The fields the form keeps under "More settings" (the task, seed, weight decay, length and operation stay in view). */
export const MORE_SETTINGS: readonly FormField[] = [
  'lr', 'decay', 'lrdRate', 'lrdParams', 'evalEvery', 'window', 'snapshotEvery', 'gapFlow',
  'causal', 'causalEvery', 'causalSequences', 'causalRandom', 'causalEps',
  'p', 'trainFraction', 'batch', 'nLayers', 'dModel', 'nHeads', 'dFF', 'norm', 'qkNorm', 'beta1', 'beta2', 'adamEps', 'clipNorm',
];

/** Whether a field under "More settings" differs from the preset's own value in the full lab (then they are shown). */
export function moreSettingsChanged(form: RunForm): boolean {
  const defaults = presetDefaults(form.preset);
  return MORE_SETTINGS.some((field) => form.values[field].trim() !== defaults[field]);
}

const testSizes = new Map<PresetName, number>();

/** The preset's test set, in sequences (built once per preset: the probe subset is at most this). */
export function presetTestSequences(preset: PresetName): number {
  let n = testSizes.get(preset);
  if (n === undefined) {
    const p = PRESETS[preset];
    n = testSequenceCount(buildTaskData(p.task, DEFAULT_SEED), p.task, p.shape.readout.count);
    testSizes.set(preset, n);
  }
  return n;
}

/** The engine's live causal options for a preset at a snapshot cadence (what a blank field means). */
export const causalDefaults = (preset: PresetName, snapshotEvery: number): LiveCausalOptions =>
  liveCausalDefaults(preset, snapshotEvery, presetTestSequences(preset));

/** Whether the preset trains modular arithmetic with a choice of operation. */
export const hasOp = (preset: PresetName) => PRESETS[preset].task.kind === 'modarith';

/** The preset's task if it is modular (modular arithmetic or multitask: a modulus and a train fraction), else null. */
function modularTask(preset: PresetName): Extract<TaskSpec, { p: number }> | null {
  const task = PRESETS[preset].task;
  return task.kind === 'modarith' || task.kind === 'multitask' ? task : null;
}

export const isModular = (preset: PresetName) => modularTask(preset) !== null;

/** Whether the preset draws minibatches (the full-batch ones train on the whole training set, so have no batch). */
export const hasBatch = (preset: PresetName) => PRESETS[preset].batchMode === 'minibatch';

const MAX_STEPS = 1_000_000;

type Check = { ok: true; value: number } | { ok: false; message: string };

/** A prime modulus, within the engine's limit. */
function prime(text: string): Check {
  const check = integerIn(text, 3, RUN_LIMITS.p, 'the modulus p (a prime)');
  if (check.ok && !isPrime(check.value)) return { ok: false, message: `must be a prime (e.g. 31 or 97), got ${check.value}` };
  return check;
}

/** A whole number in [min, max]; `range` says where the bounds come from (in the message). */
function integerIn(text: string, min: number, max: number, what: string, range?: string): Check {
  const trimmed = text.trim();
  if (trimmed === '') return { ok: false, message: `enter ${what}` };
  const value = Number(trimmed);
  if (!Number.isInteger(value)) return { ok: false, message: `must be a whole number, got "${text}"` };
  if (value < min || value > max) return { ok: false, message: `must be between ${min.toLocaleString('en')} and ${max.toLocaleString('en')}${range ? ` (${range})` : ''}, got ${value}` };
  return { ok: true, value };
}

interface Range {
  min: number;
  minInclusive: boolean;
  max: number;
  /** Default true. */
  maxInclusive?: boolean;
  what: string;
}

function rate(text: string, { min, minInclusive, max, maxInclusive = true, what }: Range): Check {
  const trimmed = text.trim();
  if (trimmed === '') return { ok: false, message: `enter ${what}` };
  const value = Number(trimmed);
  if (!Number.isFinite(value)) return { ok: false, message: `must be a number (e.g. 0.001 or 1e-3), got "${text}"` };
  if (minInclusive ? value < min : value <= min) return { ok: false, message: `must be ${minInclusive ? 'at least' : 'greater than'} ${min}, got ${value}` };
  if (maxInclusive ? value > max : value >= max) return { ok: false, message: `must be ${maxInclusive ? 'at most' : 'less than'} ${max}, got ${value}` };
  return { ok: true, value };
}

export const LR_RANGE = { min: 0, minInclusive: false, max: 1, what: 'a learning rate' } as const;
export const WD_RANGE = { min: 0, minInclusive: true, max: 10, what: 'a weight decay' } as const;
export const LRD_RATE_RANGE = { min: 0, minInclusive: true, max: 1, what: 'a low-rank decay rate' } as const;
const FRACTION_RANGE: Range = { min: 0, minInclusive: false, max: 1, maxInclusive: false, what: 'the fraction of all pairs that trains' };
const BETA_RANGE: Range = { min: 0, minInclusive: true, max: 1, maxInclusive: false, what: "Adam's moment decay rate" };
const ADAM_EPS_RANGE: Range = { min: 0, minInclusive: false, max: 1, what: "Adam's epsilon" };
const CLIP_RANGE: Range = { min: 0, minInclusive: false, max: 1e9, what: 'the gradient-norm clip' };

/**
 * The Low-Rank Decay matrices as the form holds them: a comma-separated list of LRD_PARAMS names. Read into
 * LRD_PARAMS order without repeats, so that the same choice always has the same text.
 */
function lrdMatrices(text: string): { ok: true; value: LrdParam[] } | { ok: false; message: string } {
  const names = text.split(',').map((n) => n.trim()).filter(Boolean);
  const unknown = names.filter((n) => !(LRD_PARAMS as readonly string[]).includes(n));
  if (unknown.length > 0) return { ok: false, message: `unknown matrix ${unknown.map((n) => `"${n}"`).join(', ')}; choose from ${LRD_PARAMS.join(', ')}` };
  const value = LRD_PARAMS.filter((n) => names.includes(n));
  if (value.length === 0) return { ok: false, message: 'choose at least one matrix' };
  return { ok: true, value };
}

/** The form's text for a choice of Low-Rank Decay matrices (LRD_PARAMS order). */
export const lrdParamsText = (params: readonly LrdParam[]): string => LRD_PARAMS.filter((n) => params.includes(n)).join(',');

/** Checks a live learning-rate or weight-decay value (the run controls use the same rules as the form). */
export const checkRate = (text: string, field: 'lr' | 'weightDecay'): Check => rate(text, field === 'lr' ? LR_RANGE : WD_RANGE);

export type FormResult =
  | { ok: true; request: { preset: PresetName; seed: number; overrides: RunOverrides } }
  | { ok: false; errors: FormErrors };

/** The start request the form describes, or a message for each field that is wrong. */
export function validateForm(form: RunForm): FormResult {
  const { preset, values } = form;
  const p = PRESETS[preset];
  const errors: FormErrors = {};
  const read = (field: FormField, check: Check): number | undefined => {
    if (check.ok) return check.value;
    errors[field] = check.message;
    return undefined;
  };
  const seed = read('seed', integerIn(values.seed, 0, 0xffffffff, 'a seed (a whole number)'));
  const lr = read('lr', checkRate(values.lr, 'lr'));
  const weightDecay = read('weightDecay', checkRate(values.weightDecay, 'weightDecay'));
  // The rate is read only for Low-Rank Decay (under L2 the field is hidden and whatever it holds is ignored).
  const lowRank = values.decay === 'lrd';
  if (!(DECAY_KINDS as readonly string[]).includes(values.decay)) errors.decay = `choose ${DECAY_KINDS.join(' or ')}, got "${values.decay}"`;
  const lrdRate = lowRank ? read('lrdRate', rate(values.lrdRate, LRD_RATE_RANGE)) : undefined;
  let lrdParams: LrdParam[] | undefined;
  if (lowRank) {
    const chosen = lrdMatrices(values.lrdParams);
    if (chosen.ok) lrdParams = chosen.value;
    else errors.lrdParams = chosen.message;
  }
  const steps = read('steps', integerIn(values.steps, 1, MAX_STEPS, 'the number of steps'));
  const evalEvery = read('evalEvery', integerIn(values.evalEvery, 1, steps ?? MAX_STEPS, 'how often to evaluate (in steps)'));
  const window = read('window', integerIn(values.window, 2, 64, 'the window size W'));
  const snapshotEvery = read('snapshotEvery', integerIn(values.snapshotEvery, 1, MAX_STEPS, 'the snapshot interval'));
  let op: ModOp | undefined;
  if (hasOp(preset)) {
    if (Object.hasOwn(MOD_OPS, values.op)) op = values.op as ModOp;
    else errors.op = `choose one of ${Object.keys(MOD_OPS).join(', ')}`;
  }
  if (!(GAP_FLOW_VALUES as readonly string[]).includes(values.gapFlow)) errors.gapFlow = `choose on or off, got "${values.gapFlow}"`;
  const causal = readCausal(preset, values, snapshotEvery, errors);
  const modular = modularTask(preset);
  const modulus = modular ? read('p', prime(values.p)) : undefined;
  const trainFraction = modular ? read('trainFraction', rate(values.trainFraction, FRACTION_RANGE)) : undefined;
  if (modular && modulus !== undefined && trainFraction !== undefined) {
    const pairs = modularPairCount(modulus, modular.kind, op);
    if (Math.floor(trainFraction * pairs) === 0) errors.trainFraction = `leaves no pair to train on: ${trainFraction} of the ${pairs.toLocaleString('en')} pairs`;
  }
  const batch = hasBatch(preset) ? read('batch', integerIn(values.batch, 1, RUN_LIMITS.batch, 'the minibatch size')) : undefined;
  const nLayers = read('nLayers', integerIn(values.nLayers, 1, RUN_LIMITS.nLayers, 'the number of layers'));
  const dModel = read('dModel', integerIn(values.dModel, 1, RUN_LIMITS.width, 'd_model'));
  const nHeads = read('nHeads', integerIn(values.nHeads, 1, RUN_LIMITS.width, 'the number of heads'));
  if (dModel !== undefined && nHeads !== undefined && dModel % nHeads !== 0) errors.nHeads = `must divide d_model (${dModel}), got ${nHeads}`;
  const dFF = read('dFF', integerIn(values.dFF, 1, RUN_LIMITS.width, 'd_ff'));
  if (!(NORM_KINDS as readonly string[]).includes(values.norm)) errors.norm = `choose ${NORM_KINDS.join(' or ')}, got "${values.norm}"`;
  if (!(GAP_FLOW_VALUES as readonly string[]).includes(values.qkNorm)) errors.qkNorm = `choose on or off, got "${values.qkNorm}"`;
  const beta1 = read('beta1', rate(values.beta1, BETA_RANGE));
  const beta2 = read('beta2', rate(values.beta2, BETA_RANGE));
  const eps = read('adamEps', rate(values.adamEps, ADAM_EPS_RANGE));
  const clipNorm = read('clipNorm', rate(values.clipNorm, CLIP_RANGE));
  if (Object.keys(errors).length > 0) return { ok: false, errors };

  const overrides: RunOverrides = {};
  if (lr !== p.optim.lr) overrides.lr = lr;
  if (weightDecay !== p.optim.weightDecay) overrides.weightDecay = weightDecay;
  if (lowRank) {
    overrides.decay = 'lrd';
    overrides.lrdRate = lrdRate;
    if (lrdParamsText(lrdParams!) !== lrdParamsText(DEFAULT_LRD_PARAMS)) overrides.lrdParams = lrdParams;
  }
  if (steps !== p.steps) overrides.steps = steps;
  if (evalEvery !== p.evalEvery) overrides.evalEvery = evalEvery;
  if (op !== undefined && p.task.kind === 'modarith' && op !== p.task.op) overrides.op = op;
  const spectral: NonNullable<RunOverrides['spectral']> = {};
  if (window !== p.spectral.window) spectral.window = window;
  if (snapshotEvery !== p.spectral.snapshotEvery) spectral.snapshotEvery = snapshotEvery;
  if (values.gapFlow === 'on') spectral.gapFlow = true;
  if (Object.keys(spectral).length > 0) overrides.spectral = spectral;
  if (causal) overrides.causal = causal;
  if (modular && modulus !== modular.p) overrides.p = modulus;
  if (modular && trainFraction !== modular.trainFraction) overrides.trainFraction = trainFraction;
  if (batch !== undefined && batch !== p.shape.batch) overrides.batch = batch;
  const size = PRESET_SIZES[preset];
  if (nLayers !== size.nLayers) overrides.nLayers = nLayers;
  if (dModel !== size.dModel) overrides.dModel = dModel;
  if (nHeads !== size.nHeads) overrides.nHeads = nHeads;
  if (dFF !== size.dFF) overrides.dFF = dFF;
  if (values.norm === 'rms') overrides.norm = 'rms';
  if (values.qkNorm === 'on') overrides.qkNorm = true;
  if (beta1 !== p.optim.beta1) overrides.beta1 = beta1;
  if (beta2 !== p.optim.beta2) overrides.beta2 = beta2;
  if (eps !== p.optim.eps) overrides.eps = eps;
  if (clipNorm !== p.optim.clipNorm) overrides.clipNorm = clipNorm;
  return { ok: true, request: { preset, seed: seed!, overrides } };
}

/** How many parameters the model the form describes has (null while a field is wrong). */
export function formParamCount(form: RunForm): number | null {
  const result = validateForm(form);
  return result.ok ? buildParamTable(resolveModel(result.request.preset, result.request.overrides)).total : null;
}

/**
 * The live causal overrides the form asks for (null: off), each option checked (blank: the engine's default); an
 * option's message goes into `errors`. Its ranges are the engine's (validateLiveCausalOptions).
 */
function readCausal(preset: PresetName, values: Record<FormField, string>, snapshotEvery: number | undefined, errors: FormErrors): Partial<LiveCausalOptions> | null {
  if (!(GAP_FLOW_VALUES as readonly string[]).includes(values.causal)) {
    errors.causal = `choose on or off, got "${values.causal}"`;
    return null;
  }
  if (values.causal !== 'on') return null;
  const out: Partial<LiveCausalOptions> = { enabled: true };
  const given = (field: FormField) => values[field].trim() !== '';
  const read = (field: FormField, check: Check): number | undefined => {
    if (check.ok) return check.value;
    errors[field] = check.message;
    return undefined;
  };
  if (given('causalEvery')) {
    const every = read('causalEvery', integerIn(values.causalEvery, 1, MAX_STEPS, 'how often to probe (in steps)'));
    if (every !== undefined && snapshotEvery !== undefined && every % snapshotEvery !== 0) {
      errors.causalEvery = `must be a multiple of the snapshot interval (${snapshotEvery} steps), got ${every}`;
    } else if (every !== undefined) out.every = every;
  }
  if (given('causalSequences')) {
    const tests = presetTestSequences(preset);
    const sequences = read('causalSequences', integerIn(values.causalSequences, LIVE_CAUSAL_LIMITS.sequences.min, tests, 'the probe subset', 'the test set’s size'));
    if (sequences !== undefined) out.sequences = sequences;
  }
  if (given('causalRandom')) {
    const r = LIVE_CAUSAL_LIMITS.randomPairs;
    const randomPairs = read('causalRandom', integerIn(values.causalRandom, r.min, r.max, 'the number of random pairs'));
    if (randomPairs !== undefined) out.randomPairs = randomPairs;
  }
  if (given('causalEps')) {
    const epsRelative = read('causalEps', rate(values.causalEps, CAUSAL_EPS_RANGE));
    if (epsRelative !== undefined) out.epsRelative = epsRelative;
  }
  return out;
}

export const CAUSAL_EPS_RANGE = { min: 0, minInclusive: false, max: 1, what: 'ε as a fraction of ‖θ_attn‖' } as const;

/**
 * What a run's overrides set that the form has no field for (command-line options: the early stop and the spectral
 * edge's switch, centring, subset, K and solver), as the CLI spells them; a new run from the form goes without them.
 */
export function formOmissions({ earlyStop, spectral = {} }: RunOverrides): string[] {
  return [
    earlyStop && `--early-stop ${earlyStop.evaluations}`,
    spectral.enabled === false && '--no-spectral',
    spectral.centred && '--centred',
    spectral.subset !== undefined && `--subset ${spectral.subset}`,
    spectral.k !== undefined && `--edge-k ${spectral.k}`,
    spectral.solver !== undefined && `--solver ${spectral.solver}`,
  ].filter((text): text is string => typeof text === 'string');
}

/** The form that starts a given run again (from a run file's or a link's preset, seed and overrides). */
export function formOf(preset: string, seed: number, overrides: RunOverrides): RunForm {
  if (!isPresetName(preset)) throw new Error(`unknown preset "${preset}"; choose from ${Object.keys(PRESETS).join(', ')}`);
  const values = presetDefaults(preset);
  values.seed = String(seed);
  const set = (field: FormField, v: number | string | undefined) => {
    if (v !== undefined) values[field] = String(v);
  };
  set('lr', overrides.lr);
  set('weightDecay', overrides.weightDecay);
  set('decay', overrides.decay);
  set('lrdRate', overrides.lrdRate);
  set('lrdParams', overrides.lrdParams && lrdParamsText(overrides.lrdParams));
  set('steps', overrides.steps);
  set('evalEvery', overrides.evalEvery);
  set('op', overrides.op);
  set('window', overrides.spectral?.window);
  set('snapshotEvery', overrides.spectral?.snapshotEvery);
  set('gapFlow', overrides.spectral?.gapFlow ? 'on' : undefined);
  const causal = overrides.causal;
  values.causal = causal && causal.enabled !== false ? 'on' : 'off';
  set('causalEvery', causal?.every);
  set('causalSequences', causal?.sequences);
  set('causalRandom', causal?.randomPairs);
  set('causalEps', causal?.epsRelative);
  set('p', overrides.p);
  set('trainFraction', overrides.trainFraction);
  set('batch', overrides.batch);
  set('nLayers', overrides.nLayers);
  set('dModel', overrides.dModel);
  set('nHeads', overrides.nHeads);
  set('dFF', overrides.dFF);
  set('norm', overrides.norm);
  set('qkNorm', overrides.qkNorm ? 'on' : undefined);
  set('beta1', overrides.beta1);
  set('beta2', overrides.beta2);
  set('adamEps', overrides.eps);
  set('clipNorm', overrides.clipNorm);
  return { preset, values };
}
