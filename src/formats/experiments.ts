// The causal experiments (docs/science.md §3) and their results as plain data: what each experiment of src/analysis/ returns,
// and the JSON Schema of each result, which the analysis file (src/formats/analysis-file.ts) is validated against.
import { MOD_OP_NAMES, type ModOp } from './task';
import type { StopReason } from './metrics';
import { UNIVERSALITY_CLASSES, type UniversalityClass } from './live-causal';


/** The experiments, in the order they run (the verdict last: it reads the perturbation and ablation results). */
export const EXPERIMENTS = ['perturb', 'curvature', 'ablate', 'probe', 'fourier', 'wd-intervention', 'verdict'] as const;

export type ExperimentName = (typeof EXPERIMENTS)[number];

export interface BaseMetrics {
  loss: number;
  accuracy: number;
  attentionEntropy: number;
}

/** One metric per eps point, in the order of the grid. */
export interface PerturbationCurve {
  loss: number[];
  accuracy: number[];
  kl: number[];
  attentionEntropy: number[];
}

/** Per eps point: the min, mean and max over the random directions. */
export interface BandStats {
  min: number[];
  mean: number[];
  max: number[];
}

export interface PerturbationResult {
  eps: number[];
  /** Sequences swept and the scored targets among them (KL and accuracy are averaged over these). */
  sequences: number;
  scoredTargets: number;
  /** The unperturbed model on the swept sequences. */
  base: BaseMetrics;
  /** edge[j]: the curve along v_{j+1}. */
  edge: PerturbationCurve[];
  /**
   * The control: each random direction's curve (direction j is randomUnitDirection(seed, 'perturbation', j, P)) and
   * per eps the band over them.
   */
  random: { count: number; seed: number; curves: PerturbationCurve[]; loss: BandStats; accuracy: BandStats; kl: BandStats; attentionEntropy: BandStats };
  summary: {
    /** Max over eps of the KL along each edge direction. */
    edgeMaxKl: number[];
    /** Max over eps and over the random directions. */
    randomMaxKl: number;
    /** Mean over the random directions of each one's max over eps. */
    randomMeanMaxKl: number;
  };
}

export interface HessianTopResult {
  /** The top k, largest first. */
  eigenvalues: number[];
  /** ||H y - lambda y|| measured with one more Hessian-vector product per Ritz vector y. */
  residuals: number[];
  /** The Lanczos residual bounds (src/spectral/lanczos.ts). */
  residualBounds: number[];
  converged: boolean[];
  /** Hessian-vector products of the Krylov process (the residual checks not counted). */
  iterations: number;
  /** The finite-difference step e. */
  step: number;
}

export interface CurvatureResult {
  sequences: number;
  scoredTargets: number;
  /** L(theta) on the sequences (as the engine reports it). */
  loss: number;
  /** The finite-difference step e, and e / ||theta_slice||. */
  step: number;
  relativeStep: number;
  /** 8 * 2^-24 * L / e^2: curvatures below this are float32 noise. */
  curvatureResolution: number;
  /** v^T H v along v_1..v_k (edge[j]: along v_{j+1}), by the second difference of the loss. */
  edge: number[];
  /** <v_j, grad L(theta)> along the same directions. */
  edgeGradientProjection: number[];
  /** v^T H v along the random unit directions (seeded by `randomSeed`: randomUnitDirection(seed, 'curvature', j, P)). */
  random: number[];
  randomGradientProjection: number[];
  randomSeed: number;
  /** The top Hessian eigenvalues; null when not asked for. */
  hessian: HessianTopResult | null;
}

/** One ablated model against the base. */
export interface AblationEffect {
  /** The removed edge vectors, 1-based (v1 = 1); empty for random directions. */
  vectors: number[];
  /** <theta, d> for each removed direction d (float64 sums of float32 partial dot products). */
  projections: number[];
  /** sum_k <theta, d_k>^2 / ||theta||^2: the fraction of the slice's squared norm removed. */
  removedFraction: number;
  accuracy: number;
  loss: number;
  /** accuracy - base accuracy. */
  deltaAccuracy: number;
  /** loss - base loss. */
  deltaLoss: number;
  /** Correctly predicted scored targets minus the base's (the net number of token flips). */
  deltaCorrect: number;
}

export interface AblationResult {
  /** Where the ablated slice starts in the flat parameters, and its length (theta_attn: the edge's slice). */
  paramOffset: number;
  P: number;
  /** Edge vectors available (K). */
  K: number;
  /** ||theta|| over the slice (before any ablation). */
  sliceNorm: number;
  /** Scored test targets and test sequences. */
  scored: number;
  sequences: number;
  base: { accuracy: number; loss: number };
  /** One token flip: 1 / scored. */
  resolution: number;
  edge: AblationEffect;
  /** {v3, v4}; null when K < 4. */
  bulk: AblationEffect | null;
  /** Each v_k alone, k = 1..K (empty when not asked for). */
  single: AblationEffect[];
  random: {
    trials: number;
    seed: number;
    effects: AblationEffect[];
    /** Mean, sample standard deviation (n - 1; 0 for one trial) and max of |deltaAccuracy| over the trials. */
    meanAbsDelta: number;
    stdAbsDelta: number;
    maxAbsDelta: number;
    /** Mean |deltaLoss| over the trials. */
    meanAbsDeltaLoss: number;
  };
  /**
   * |edge deltaAccuracy| / random meanAbsDelta; when the random mean is below one token flip, |edge deltaAccuracy| /
   * resolution instead, with lowerBound true (the true ratio is at least this).
   */
  ratio: { value: number; lowerBound: boolean; resolution: number };
}

export type ProbeKind = 'linear' | 'quadratic' | 'mlp';

export type ProbeScores = Record<ProbeKind, number> & {
  /** Scored positions the probes were fitted and tested on (70% / 30%). */
  positions: number;
};

export interface ProbeExperimentResult {
  /** What the probes predict: Dyck depth after each token, or the SCAN decoder's target token id. */
  target: 'dyck-depth' | 'decoder-token';
  sequences: number;
  /** The probes on the analysed model. */
  trained: ProbeScores;
  /**
   * The same probes on the untrained model (the run's initial parameters): what the architecture and the token
   * embeddings alone give, the baseline the trained scores are read against.
   */
  untrained: ProbeScores;
}

/** One row of the table: a branch at its end, or the checkpoint itself. */
export interface DecayRow {
  /** The branch's weight decay (the base row: the checkpoint's). */
  weightDecay: number;
  /** Steps trained from the checkpoint: 0 for the base row; fewer than asked when a branch diverged. */
  steps: number;
  /** 'base' for the checkpoint itself; how the branch ended ('diverged': back at its last good evaluation). */
  stopReason: 'base' | StopReason;
  testAccuracy: number;
  testLoss: number;
  /** Teacher-forced test sequence accuracy. */
  testSequenceAccuracy: number;
  /** Linear-probe R^2 (null: the task has no probe target, see DecayInterventionResult.probe). */
  probeR2: number | null;
  /** Mean attention entropy in nats. */
  attentionEntropy: number;
  thetaNorm: number;
  attnNorm: number;
}

export type DecayProbe =
  | { target: 'dyck-depth' | 'decoder-token'; sequences: number; positions: number }
  | { target: null; reason: string };

export interface DecayInterventionResult {
  /** The checkpoint's step: where every branch starts. */
  fromStep: number;
  /** Steps per branch, and the learning rate every branch keeps. */
  steps: number;
  lr: number;
  probe: DecayProbe;
  entropySequences: number;
  base: DecayRow;
  branches: DecayRow[];
}

export type ModBasis = 'add' | 'sub' | 'mulRaw' | 'mulLog';

export const MOD_BASES: readonly ModBasis[] = ['add', 'sub', 'mulRaw', 'mulLog'];

export type FieldBasis = ModBasis | 'depth';

export interface BasisModes {
  /** Groups M (the period of q); power has floor(M/2) entries, frequencies 1..floor(M/2). */
  modulus: number;
  power: number[];
  concentration: number;
  peakFrequency: number | null;
  /** 1 / floor(M/2). */
  uniformLevel: number;
  /** Mean f per group q = 0..M-1 (empty groups filled with the mean of the others). */
  groupMeans: number[];
  missingGroups: number;
  excludedPoints: number;
  /** Permutation null (see the header): mean F of the shuffled fields, and the share of shuffles with F >= F observed. */
  nullConcentration: number | null;
  nullExceedance: number | null;
}

export interface GridModes {
  /** The strongest frequency pairs (k1 pairs with a, k2 with b; one of each {k, -k}), strongest first. */
  peaks: { k1: number; k2: number; power: number }[];
  concentration: number;
  uniformLevel: number;
  /** Cells of the p x p grid holding a held-out pair (the others were filled). */
  observedCells: number;
}

export interface DirectionModes {
  /** 'v1'.. for edge directions, 'random1'.. for the controls. */
  label: string;
  kind: 'edge' | 'random';
  /** Mean of f over the points (how strongly the direction moves the stream at all). */
  meanResponse: number;
  bases: Partial<Record<FieldBasis, BasisModes>>;
  /**
   * Modular arithmetic: the same bases over the pairs with a != b (see the header: pairs a = b respond several
   * times more than the rest and all fall in quadratic-residue groups); null for Dyck. Absent in files written
   * before it was added.
   */
  offDiagonal?: { bases: Partial<Record<ModBasis, BasisModes>>; diagonalPairs: number; diagonalResponseRatio: number | null } | null;
  /** Modular arithmetic: the 2-D spectrum over (a, b); null for Dyck. */
  grid: GridModes | null;
}

export interface HeadBases {
  head: number;
  /** The op the head's test labels follow (null: none of MOD_OPS). */
  op: ModOp | null;
  /** The bases that op lives in. */
  bases: ModBasis[];
}

export interface FunctionalModesResult {
  task: 'modarith' | 'multitask' | 'dyck';
  /** The modulus p (modular arithmetic), null for Dyck. */
  p: number | null;
  scale: number;
  eps: number;
  thetaAttnNorm: number;
  /** Test sequences used and points of the field (pairs, or Dyck's scored positions). */
  sequences: number;
  points: number;
  /** Modular arithmetic: each task head's op and bases (one entry for a single-head model); null for Dyck. */
  heads: HeadBases[] | null;
  directions: DirectionModes[];
  /**
   * v_1's 2-D power on the full p x p frequency grid, power[(k1 mod p) p + (k2 mod p)] = |F_{k1,k2}|^2 over the
   * total non-DC power (sums to 1; cells k and -k are equal, each half of its pair's share in `peaks`); null for Dyck.
   */
  gridV1: { p: number; power: number[] } | null;
}

export interface PermutationNull {
  /** Mean F over the shuffles. */
  mean: number;
  /** Share of shuffles whose F is at least the observed F. */
  exceedance: number;
}

/** The signs a verdict weighs; each evidence row tests exactly one. */
export const VERDICT_SIGNS = ['decay-dominated', 'nearly frozen', 'functional', 'functionally empty'] as const;
export type VerdictSign = (typeof VERDICT_SIGNS)[number];

export interface Evidence {
  quantity: string;
  value: number | null;
  /** The test this row applies, e.g. "< 0.5". */
  threshold: string;
  /** The sign the row tests (older files lack it). */
  sign?: VerdictSign;
  /** Whether the value passes the threshold, i.e. shows its sign (null: not measurable, e.g. no rotation before the second window). */
  met: boolean | null;
}

export interface Verdict {
  class: UniversalityClass;
  /** One sentence: why this class (it names exactly the signs that hold). */
  reason: string;
  evidence: Evidence[];
  /** Whether each sign holds, from its evidence rows (functionally empty: both ratio rows, or the flip row). Older files lack it. */
  signs?: { sign: VerdictSign; holds: boolean | null }[];
  /** What limits the verdict (a model that gets almost nothing right cannot lose accuracy to an ablation). */
  caveat?: string;
}

// ---- Result schemas ------------------------------------------------------------------------------------------

const number = { type: 'number' } as const;
const integer = { type: 'integer' } as const;
const numbers = { type: 'array', items: number } as const;
const nullableNumber = { type: ['number', 'null'] } as const;
const num = number;
const int = integer;

const bandSchema = { type: 'object', additionalProperties: false, required: ['min', 'mean', 'max'], properties: { min: numbers, mean: numbers, max: numbers } } as const;
const curveSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['loss', 'accuracy', 'kl', 'attentionEntropy'],
  properties: { loss: numbers, accuracy: numbers, kl: numbers, attentionEntropy: numbers },
} as const;

/** JSON schema (draft 7) of a PerturbationResult. */
export const PERTURBATION_SCHEMA = {
  type: 'object',
  additionalProperties: false,
  required: ['eps', 'sequences', 'scoredTargets', 'base', 'edge', 'random', 'summary'],
  properties: {
    eps: numbers,
    sequences: { type: 'integer' },
    scoredTargets: { type: 'integer' },
    base: {
      type: 'object',
      additionalProperties: false,
      required: ['loss', 'accuracy', 'attentionEntropy'],
      properties: { loss: { type: 'number' }, accuracy: { type: 'number' }, attentionEntropy: { type: 'number' } },
    },
    edge: { type: 'array', items: curveSchema },
    random: {
      type: 'object',
      additionalProperties: false,
      required: ['count', 'seed', 'curves', 'loss', 'accuracy', 'kl', 'attentionEntropy'],
      properties: { count: { type: 'integer' }, seed: { type: 'integer' }, curves: { type: 'array', items: curveSchema }, loss: bandSchema, accuracy: bandSchema, kl: bandSchema, attentionEntropy: bandSchema },
    },
    summary: {
      type: 'object',
      additionalProperties: false,
      required: ['edgeMaxKl', 'randomMaxKl', 'randomMeanMaxKl'],
      properties: { edgeMaxKl: numbers, randomMaxKl: { type: 'number' }, randomMeanMaxKl: { type: 'number' } },
    },
  },
} as const;

/** JSON schema (draft 7) of a HessianTopResult. */
export const HESSIAN_TOP_SCHEMA = {
  type: 'object',
  additionalProperties: false,
  required: ['eigenvalues', 'residuals', 'residualBounds', 'converged', 'iterations', 'step'],
  properties: {
    eigenvalues: numbers,
    residuals: numbers,
    residualBounds: numbers,
    converged: { type: 'array', items: { type: 'boolean' } },
    iterations: { type: 'integer' },
    step: { type: 'number' },
  },
} as const;

/** JSON schema (draft 7) of a CurvatureResult. */
export const CURVATURE_SCHEMA = {
  type: 'object',
  additionalProperties: false,
  required: [
    'sequences', 'scoredTargets', 'loss', 'step', 'relativeStep', 'curvatureResolution',
    'edge', 'edgeGradientProjection', 'random', 'randomGradientProjection', 'randomSeed', 'hessian',
  ],
  properties: {
    sequences: { type: 'integer' },
    scoredTargets: { type: 'integer' },
    loss: { type: 'number' },
    step: { type: 'number' },
    relativeStep: { type: 'number' },
    curvatureResolution: { type: 'number' },
    edge: numbers,
    edgeGradientProjection: numbers,
    random: numbers,
    randomGradientProjection: numbers,
    randomSeed: { type: 'integer' },
    hessian: { oneOf: [{ type: 'null' }, HESSIAN_TOP_SCHEMA] },
  },
} as const;

const ablationEffect = {
  type: 'object',
  additionalProperties: false,
  required: ['vectors', 'projections', 'removedFraction', 'accuracy', 'loss', 'deltaAccuracy', 'deltaLoss', 'deltaCorrect'],
  properties: {
    vectors: { type: 'array', items: { type: 'integer', minimum: 1 } },
    projections: { type: 'array', items: number },
    removedFraction: number,
    accuracy: number,
    loss: number,
    deltaAccuracy: number,
    deltaLoss: number,
    deltaCorrect: integer,
  },
} as const;

/** JSON schema (draft 7) fragment of an AblationResult. */
export const ABLATION_SCHEMA = {
  type: 'object',
  additionalProperties: false,
  required: ['paramOffset', 'P', 'K', 'sliceNorm', 'scored', 'sequences', 'base', 'resolution', 'edge', 'bulk', 'single', 'random', 'ratio'],
  properties: {
    paramOffset: integer,
    P: integer,
    K: integer,
    sliceNorm: number,
    scored: integer,
    sequences: integer,
    base: { type: 'object', additionalProperties: false, required: ['accuracy', 'loss'], properties: { accuracy: number, loss: number } },
    resolution: number,
    edge: ablationEffect,
    bulk: { oneOf: [{ type: 'null' }, ablationEffect] },
    single: { type: 'array', items: ablationEffect },
    random: {
      type: 'object',
      additionalProperties: false,
      required: ['trials', 'seed', 'effects', 'meanAbsDelta', 'stdAbsDelta', 'maxAbsDelta', 'meanAbsDeltaLoss'],
      properties: {
        trials: integer,
        seed: integer,
        effects: { type: 'array', items: ablationEffect },
        meanAbsDelta: number,
        stdAbsDelta: number,
        maxAbsDelta: number,
        meanAbsDeltaLoss: number,
      },
    },
    ratio: {
      type: 'object',
      additionalProperties: false,
      required: ['value', 'lowerBound', 'resolution'],
      properties: { value: number, lowerBound: { type: 'boolean' }, resolution: number },
    },
  },
} as const;

const probeScoresSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['linear', 'quadratic', 'mlp', 'positions'],
  properties: { linear: { type: 'number' }, quadratic: { type: 'number' }, mlp: { type: 'number' }, positions: { type: 'integer' } },
} as const;

/** JSON schema (draft 7) of a ProbeExperimentResult. */
export const PROBE_SCHEMA = {
  type: 'object',
  additionalProperties: false,
  required: ['target', 'sequences', 'trained', 'untrained'],
  properties: { target: { enum: ['dyck-depth', 'decoder-token'] }, sequences: { type: 'integer' }, trained: probeScoresSchema, untrained: probeScoresSchema },
} as const;

const decayRow = {
  type: 'object',
  additionalProperties: false,
  required: ['weightDecay', 'steps', 'stopReason', 'testAccuracy', 'testLoss', 'testSequenceAccuracy', 'probeR2', 'attentionEntropy', 'thetaNorm', 'attnNorm'],
  properties: {
    weightDecay: number,
    steps: integer,
    stopReason: { enum: ['base', 'completed', 'early-stop', 'diverged', 'interrupted'] },
    testAccuracy: number,
    testLoss: number,
    testSequenceAccuracy: number,
    probeR2: { type: ['number', 'null'] },
    attentionEntropy: number,
    thetaNorm: number,
    attnNorm: number,
  },
} as const;

/** JSON schema (draft 7) fragment of a DecayInterventionResult. */
export const DECAY_INTERVENTION_SCHEMA = {
  type: 'object',
  additionalProperties: false,
  required: ['fromStep', 'steps', 'lr', 'probe', 'entropySequences', 'base', 'branches'],
  properties: {
    fromStep: integer,
    steps: integer,
    lr: number,
    probe: {
      oneOf: [
        {
          type: 'object',
          additionalProperties: false,
          required: ['target', 'sequences', 'positions'],
          properties: { target: { enum: ['dyck-depth', 'decoder-token'] }, sequences: integer, positions: integer },
        },
        { type: 'object', additionalProperties: false, required: ['target', 'reason'], properties: { target: { type: 'null' }, reason: { type: 'string' } } },
      ],
    },
    entropySequences: integer,
    base: decayRow,
    branches: { type: 'array', items: decayRow },
  },
} as const;

const BASIS_SCHEMA = {
  type: 'object',
  additionalProperties: false,
  required: ['modulus', 'power', 'concentration', 'peakFrequency', 'uniformLevel', 'groupMeans', 'missingGroups', 'excludedPoints', 'nullConcentration', 'nullExceedance'],
  properties: {
    modulus: int, power: numbers, concentration: num, peakFrequency: { type: ['integer', 'null'] }, uniformLevel: num, groupMeans: numbers,
    missingGroups: int, excludedPoints: int, nullConcentration: { type: ['number', 'null'] }, nullExceedance: { type: ['number', 'null'] },
  },
} as const;

const GRID_SCHEMA = {
  type: 'object',
  additionalProperties: false,
  required: ['peaks', 'concentration', 'uniformLevel', 'observedCells'],
  properties: {
    peaks: { type: 'array', items: { type: 'object', additionalProperties: false, required: ['k1', 'k2', 'power'], properties: { k1: int, k2: int, power: num } } },
    concentration: num, uniformLevel: num, observedCells: int,
  },
} as const;

/** JSON schema (draft 7) of a FunctionalModesResult. */
export const FUNCTIONAL_MODES_SCHEMA = {
  type: 'object',
  additionalProperties: false,
  required: ['task', 'p', 'scale', 'eps', 'thetaAttnNorm', 'sequences', 'points', 'heads', 'directions', 'gridV1'],
  properties: {
    task: { enum: ['modarith', 'multitask', 'dyck'] },
    p: { type: ['integer', 'null'] },
    scale: num, eps: num, thetaAttnNorm: num, sequences: int, points: int,
    heads: {
      oneOf: [
        { type: 'null' },
        {
          type: 'array',
          items: {
            type: 'object', additionalProperties: false, required: ['head', 'op', 'bases'],
            properties: { head: int, op: { enum: [...MOD_OP_NAMES, null] }, bases: { type: 'array', items: { enum: MOD_BASES } } },
          },
        },
      ],
    },
    directions: {
      type: 'array',
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['label', 'kind', 'meanResponse', 'bases', 'grid'],
        properties: {
          label: { type: 'string' },
          kind: { enum: ['edge', 'random'] },
          meanResponse: num,
          bases: {
            type: 'object', additionalProperties: false,
            properties: { add: BASIS_SCHEMA, sub: BASIS_SCHEMA, mulRaw: BASIS_SCHEMA, mulLog: BASIS_SCHEMA, depth: BASIS_SCHEMA },
          },
          offDiagonal: {
            oneOf: [
              { type: 'null' },
              {
                type: 'object', additionalProperties: false, required: ['bases', 'diagonalPairs', 'diagonalResponseRatio'],
                properties: {
                  bases: { type: 'object', additionalProperties: false, properties: { add: BASIS_SCHEMA, sub: BASIS_SCHEMA, mulRaw: BASIS_SCHEMA, mulLog: BASIS_SCHEMA } },
                  diagonalPairs: int, diagonalResponseRatio: { type: ['number', 'null'] },
                },
              },
            ],
          },
          grid: { oneOf: [{ type: 'null' }, GRID_SCHEMA] },
        },
      },
    },
    gridV1: {
      oneOf: [
        { type: 'null' },
        { type: 'object', additionalProperties: false, required: ['p', 'power'], properties: { p: int, power: numbers } },
      ],
    },
  },
} as const;

/** JSON schema (draft 7) of a Verdict. */
export const VERDICT_SCHEMA = {
  type: 'object',
  additionalProperties: false,
  required: ['class', 'reason', 'evidence'],
  properties: {
    class: { enum: UNIVERSALITY_CLASSES },
    reason: { type: 'string' },
    evidence: {
      type: 'array',
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['quantity', 'value', 'threshold', 'met'],
        properties: { quantity: { type: 'string' }, value: nullableNumber, threshold: { type: 'string' }, sign: { enum: VERDICT_SIGNS }, met: { type: ['boolean', 'null'] } },
      },
    },
    signs: {
      type: 'array',
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['sign', 'holds'],
        properties: { sign: { enum: VERDICT_SIGNS }, holds: { type: ['boolean', 'null'] } },
      },
    },
    caveat: { type: 'string' },
  },
} as const;
