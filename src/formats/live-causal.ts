// The live causal probes' settings and records (docs/science.md §3.9): what the trainer
// measures on the spectral edge while a run trains, every `every` steps at a window step, and keeps in the run
// file's `causal` series, in checkpoints (inside the metrics) and in the worker's stream to the page. No imports
// from the rest of src/: the engine, the CLI, the store and the charts all read these types from here.

/** The universality classes of the edge (src/analysis/verdict.ts gives the rules). */
export const UNIVERSALITY_CLASSES = ['functional', 'mixed', 'compression'] as const;
export type UniversalityClass = (typeof UNIVERSALITY_CLASSES)[number];

/** Settings of the live causal probes (off unless asked for). */
export interface LiveCausalOptions {
  enabled: boolean;
  /** Steps between probes: a positive multiple of the spectral snapshot cadence (a window step). */
  every: number;
  /** Test sequences of the fixed, seeded probe subset (at most the test set's size). */
  sequences: number;
  /** R: random 2-direction pairs removed per probe, fresh each probe (their first directions are also perturbed). */
  randomPairs: number;
  /** Perturbation size: eps = epsRelative * ||theta_attn||; the curve is taken at eps * EPS_FRACTIONS. */
  epsRelative: number;
}

/** The perturbation curve's points, as fractions of eps (the ends are the +-eps of the record). */
export const EPS_FRACTIONS = [-1, -0.5, 0.5, 1] as const;

/** One ablated model against the base, on the probe subset. */
export interface LiveAblationEffect {
  /** accuracy - base accuracy (a whole number of token flips / scored). */
  deltaAccuracy: number;
  /** loss - base loss. */
  deltaLoss: number;
  /** Correct scored targets minus the base's. */
  deltaCorrect: number;
}

/** Along one direction: each curve point of eps * EPS_FRACTIONS. */
export interface LivePerturbationCurve {
  /** KL(base || perturbed), averaged over the scored targets. */
  kl: number[];
  /** loss - base loss. */
  deltaLoss: number[];
  /** accuracy - base accuracy. */
  deltaAccuracy: number[];
}

/** What one probe measured, at one window step. */
export interface CausalRecord {
  /** The optimiser step of the window the probe ran on. */
  step: number;
  /** Seeds this probe's random directions (derived from the run seed and the step; never the training stream). */
  seed: number;
  /** Probe subset: sequences and scored targets; one token flip is 1 / scored. */
  sequences: number;
  scored: number;
  resolution: number;
  /** The unablated, unperturbed model on the subset. */
  base: { accuracy: number; loss: number };
  ablation: {
    /** {v1, v2} removed. */
    edge: LiveAblationEffect;
    /** {v3, v4} removed (null when the run keeps fewer than 4 edge vectors). */
    bulk: LiveAblationEffect | null;
    /** Each of the R random pairs. */
    random: LiveAblationEffect[];
    /** Mean and max over the random pairs of |deltaAccuracy|, and the mean |deltaLoss|. */
    randomMeanAbsDelta: number;
    randomMaxAbsDelta: number;
    randomMeanAbsDeltaLoss: number;
    /**
     * |edge deltaAccuracy| / randomMeanAbsDelta; when the random pairs flip less than one token on average,
     * |edge deltaAccuracy| / resolution with lowerBound true.
     */
    ratio: { value: number; lowerBound: boolean };
  };
  perturbation: {
    /** ||theta_attn|| at the step, and eps = epsRelative * it. */
    sliceNorm: number;
    eps: number;
    /** v1..v3 (fewer when the run keeps fewer edge vectors). */
    edge: LivePerturbationCurve[];
    /** The first direction of each random pair. */
    random: LivePerturbationCurve[];
  };
  curvature: {
    /** v1^T H v1 of the subset's loss by the second difference at +-e, e = 1e-3 ||theta_attn||. */
    v1: number;
    /** Float32 noise level of that difference, 8 * 2^-24 * L / e^2: smaller magnitudes are not resolved. */
    resolution: number;
    /** The finite-difference step e. */
    step: number;
  };
  /** The universality class from this probe and the spectral records up to its step. */
  verdict: { class: UniversalityClass; reason: string };
}

/** Bumped when a field of CausalRecord changes meaning or is removed. */
export const CAUSAL_RECORD_VERSION = 1;

/** Where the live probes' defaults and limits come from; the trainer picks `every` per preset. */
export const LIVE_CAUSAL_LIMITS = {
  sequences: { min: 1 },
  randomPairs: { min: 1, max: 64, default: 4 },
  epsRelative: { default: 0.005 },
} as const;

export class LiveCausalOptionsError extends Error {
  override name = 'LiveCausalOptionsError';
}

/**
 * Checks live causal options against the run they belong to: `every` a positive multiple of the snapshot cadence,
 * `sequences` within the test set, R >= 1, eps > 0 and finite. Throws a one-line LiveCausalOptionsError naming the
 * option and its allowed range.
 */
export function validateLiveCausalOptions(o: LiveCausalOptions, run: { snapshotEvery: number; testSequences: number; spectralEnabled: boolean; edgeVectors: number }): void {
  const fail = (message: string): never => {
    throw new LiveCausalOptionsError(message);
  };
  if (typeof o.enabled !== 'boolean') fail(`causal.enabled must be true or false, got ${String(o.enabled)}`);
  if (!o.enabled) return;
  if (!run.spectralEnabled) fail('the live causal probes need the spectral edge tracked (spectral.enabled)');
  if (run.edgeVectors < 2) fail(`the live causal probes remove {v1, v2} and need at least 2 edge vectors (spectral.k), got ${run.edgeVectors}`);
  if (!(Number.isInteger(o.every) && o.every > 0 && o.every % run.snapshotEvery === 0)) {
    fail(`causal.every must be a positive multiple of the snapshot cadence (${run.snapshotEvery} steps), got ${o.every}`);
  }
  if (!(Number.isInteger(o.sequences) && o.sequences >= LIVE_CAUSAL_LIMITS.sequences.min && o.sequences <= run.testSequences)) {
    fail(`causal.sequences must be an integer in [1, ${run.testSequences}] (the test set's size), got ${o.sequences}`);
  }
  const r = LIVE_CAUSAL_LIMITS.randomPairs;
  if (!(Number.isInteger(o.randomPairs) && o.randomPairs >= r.min && o.randomPairs <= r.max)) fail(`causal.randomPairs must be an integer in [${r.min}, ${r.max}], got ${o.randomPairs}`);
  if (!(typeof o.epsRelative === 'number' && Number.isFinite(o.epsRelative) && o.epsRelative > 0 && o.epsRelative <= 1)) {
    fail(`causal.epsRelative must be a finite number in (0, 1], got ${o.epsRelative}`);
  }
}

// ---- JSON Schema -------------------------------------------------------------------------------------------

const number = { type: 'number' } as const;
const integer = { type: 'integer' } as const;
const numbers = { type: 'array', items: number } as const;
const effect = {
  type: 'object',
  additionalProperties: false,
  required: ['deltaAccuracy', 'deltaLoss', 'deltaCorrect'],
  properties: { deltaAccuracy: number, deltaLoss: number, deltaCorrect: integer },
} as const;
const curve = {
  type: 'object',
  additionalProperties: false,
  required: ['kl', 'deltaLoss', 'deltaAccuracy'],
  properties: { kl: numbers, deltaLoss: numbers, deltaAccuracy: numbers },
} as const;

/** JSON Schema (draft 7) of LiveCausalOptions. */
export const LIVE_CAUSAL_OPTIONS_SCHEMA = {
  type: 'object',
  additionalProperties: false,
  required: ['enabled', 'every', 'sequences', 'randomPairs', 'epsRelative'],
  properties: { enabled: { type: 'boolean' }, every: integer, sequences: integer, randomPairs: integer, epsRelative: number },
} as const;

/** JSON Schema (draft 7) of a CausalRecord. */
export const CAUSAL_RECORD_SCHEMA = {
  type: 'object',
  additionalProperties: false,
  required: ['step', 'seed', 'sequences', 'scored', 'resolution', 'base', 'ablation', 'perturbation', 'curvature', 'verdict'],
  properties: {
    step: { type: 'integer', minimum: 0 },
    seed: integer,
    sequences: integer,
    scored: integer,
    resolution: number,
    base: { type: 'object', additionalProperties: false, required: ['accuracy', 'loss'], properties: { accuracy: number, loss: number } },
    ablation: {
      type: 'object',
      additionalProperties: false,
      required: ['edge', 'bulk', 'random', 'randomMeanAbsDelta', 'randomMaxAbsDelta', 'randomMeanAbsDeltaLoss', 'ratio'],
      properties: {
        edge: effect,
        bulk: { oneOf: [{ type: 'null' }, effect] },
        random: { type: 'array', items: effect },
        randomMeanAbsDelta: number,
        randomMaxAbsDelta: number,
        randomMeanAbsDeltaLoss: number,
        ratio: { type: 'object', additionalProperties: false, required: ['value', 'lowerBound'], properties: { value: number, lowerBound: { type: 'boolean' } } },
      },
    },
    perturbation: {
      type: 'object',
      additionalProperties: false,
      required: ['sliceNorm', 'eps', 'edge', 'random'],
      properties: { sliceNorm: number, eps: number, edge: { type: 'array', items: curve }, random: { type: 'array', items: curve } },
    },
    curvature: { type: 'object', additionalProperties: false, required: ['v1', 'resolution', 'step'], properties: { v1: number, resolution: number, step: number } },
    verdict: {
      type: 'object',
      additionalProperties: false,
      required: ['class', 'reason'],
      properties: { class: { enum: UNIVERSALITY_CLASSES }, reason: { type: 'string' } },
    },
  },
} as const;
