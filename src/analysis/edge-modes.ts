// The Fourier content of the spectral edge (docs/science.md §3.7), on the GPU: for a direction v over
// theta_attn, the response field
//   f(x) = || h(theta + e v)_x - h(theta)_x ||^2,   e = scale ||theta_attn|| (scale 0.005),
// where h_x is the residual stream after the last block, before the final LayerNorm, at scored readout position x
// of a held-out sequence; then f's grouped spectra (src/analysis/functional-modes.ts) for the edge directions
// v_1..v_K and for seeded random unit directions over the same slice (the controls).
//
// The points x:
//   modular arithmetic (one task head or several: multitask): one per held-out pair, the readout position 0 of
//     the test sequence [a, b]; the operands a and b are its two tokens. Every basis of functional-modes.ts
//     (add, sub, mulRaw, mulLog, with p = the vocabulary size) and the 2-D spectrum over (a, b).
//   Dyck: one per scored (non-PAD) position of the first `sequences` test sequences (default 300), the residual at
//     that position; q = its target, the depth after that token. The depth basis only.
// Multitask heads share the trunk, so the field (and every spectrum) is one; the report adds, per head, the op
// recognised from its test labels and the bases that op lives in (add: add, sub: sub, mul: mulRaw and mulLog,
// others: none), so the head's own concentration is read from the shared spectra.
//
// Noise floor. F is the largest of floor(M/2) normalised powers, so even a field with no structure in q reaches
// well above 1/floor(M/2) (white noise over 15 frequencies: about 0.22, i.e. 3.3x uniform), and a held-out set
// leaves only ~N/M points per group. Each basis therefore also reports a permutation null: F of the same field
// with its values shuffled over the points (same pairs, same groups; `permutations` seeded shuffles, default 20),
// as the mean null F and the fraction of shuffles whose F reaches the observed one.
//
// The diagonal. Pairs with a = b (both tokens the same) move the residual stream several times more than the rest
// (2.4-6.8x for every direction, edge or random, on the modarith preset at steps 3,100-4,300), and they fall in
// special groups: q = 0 in the sub basis, and q = 2 dlog a, always even, in the mulLog basis, i.e. ab = a^2 is a
// quadratic residue. Their share of each even group puts power at the parity frequency k = (p - 1)/2 of the
// mulLog basis in any direction. So the modular bases are also reported over the pairs a != b alone
// (offDiagonal), with the ratio of the mean f on a = b to the mean f elsewhere.
//
// GPU work: one forward-only graph of `chunk` sequences on engine.state (the ResidualStreamReader's), driven by a
// ParamProbe over the directions' slice; per chunk one submit evaluates theta and then theta + e v for every
// direction, copying the residual back after each forward pass. The squared distances are formed on the CPU in
// float64 from the read-back float32 residuals. Parameters and gradients are restored exactly (copied back from
// the probe's backup, never recomputed).
import { NonFiniteError } from '../util/non-finite';
import { at, type TensorRef } from '../gpu/runtime';
import { IGNORE_TARGET, type Batch } from '../model/batch';
import { isEncoderDecoder, taskHeadCount } from '../model/config';
import { ParamProbe, type ParamSlice } from '../spectral/param-probe';
import type { TrainingEngine } from '../model/engine';
import { DYCK } from '../tasks/dyck';
import { isPrime, MOD_OPS } from '../tasks/modarith';
import type { ModOp } from '../formats/task';
import { Rng } from '../util/random';
import { firstSequences, NotApplicableError, type AnalysisContext } from './context';
import { allBasisSpectra, basisVariable, depthSpectrum, gridSpectrum, groupedSpectrum, type GroupedSpectrum, type ResponseField } from './functional-modes';
import { MOD_BASES, BasisModes, HeadBases, FunctionalModesResult, PermutationNull, type ModBasis } from '../formats/experiments';
import { DEPTH_PROBE_SEQUENCES, scoredPositions } from './probe-run';
import { ResidualStreamReader } from './residual-stream';

export const EDGE_MODES_DEFAULTS = { scale: 0.005, random: 2, chunk: 512, dyckSequences: DEPTH_PROBE_SEQUENCES, gridPeaks: 6, permutations: 20 } as const;

// ---- The response field ------------------------------------------------------------------------------------

export interface ResponseFieldOptions {
  /** e = scale ||theta_attn|| (docs/science.md §3.7: 0.005). */
  scale?: number;
  /** The slice the directions live in (default theta_attn); e is always relative to ||theta_attn||. */
  slice?: ParamSlice;
  /** Sequences per forward pass (default min(count, 512)). */
  chunk?: number;
  /** Called after each chunk. */
  progress?: (done: number, total: number) => void;
}

export interface ResponseFields {
  /** The step e and ||theta_attn|| (float64 sum of squares of the float32 parameters). */
  eps: number;
  thetaAttnNorm: number;
  /** The scored positions' targets, `targetDim` (task heads) per point, in point order. */
  targets: Float64Array;
  targetDim: number;
  /** f over the points, one array per direction. */
  fields: Float64Array[];
}

/**
 * f(x) = ||h(theta + e v)_x - h(theta)_x||^2 for each direction v (slice-sized float32 vectors on the GPU) at every
 * scored position x of `data` (every task head scores it: scoredPositions in probe-run.ts), in sequence order.
 */
export async function responseFields(engine: TrainingEngine, data: Batch, directions: readonly TensorRef[], options: ResponseFieldOptions = {}): Promise<ResponseFields> {
  const rt = engine.runtime;
  const { seqLen, readout, sourceLen } = engine.graph.shape;
  const count = data.tokens.length / seqLen;
  if (!(Number.isInteger(count) && count > 0)) throw new Error(`response field: ${data.tokens.length} tokens are not whole sequences of ${seqLen}`);
  const scale = options.scale ?? EDGE_MODES_DEFAULTS.scale;
  if (!(scale > 0 && Number.isFinite(scale))) throw new RangeError(`response field: scale must be positive and finite, got ${scale}`);
  const chunk = options.chunk ?? Math.min(count, EDGE_MODES_DEFAULTS.chunk);
  if (!(Number.isInteger(chunk) && chunk > 0)) throw new RangeError(`response field: chunk must be a positive integer, got ${chunk}`);
  if (directions.length === 0) throw new RangeError('response field: no directions');

  const attn = engine.table.attn;
  const theta = await rt.readF32(engine.state.params, attn.offset, attn.size);
  const thetaAttnNorm = Math.sqrt(theta.reduce((s, x) => s + x * x, 0));
  if (!Number.isFinite(thetaAttnNorm)) throw new NonFiniteError('||theta_attn|| (the response field\'s scale)', [thetaAttnNorm]);
  const eps = scale * thetaAttnNorm;
  if (!(eps > 0 && Number.isFinite(eps))) throw new Error(`response field: e = ${scale} * ||theta_attn|| = ${eps} must be positive and finite`);

  const shape = { seqLen, readout, ...(sourceLen !== undefined && { sourceLen }) };
  const reader = await ResidualStreamReader.create(rt, engine.config, engine.state, shape, chunk);
  const probe = await ParamProbe.create(engine, { graph: reader.graph, ...(options.slice && { slice: options.slice }) });
  const heads = taskHeadCount(engine.config);
  const noTargets = new Int32Array(chunk * readout.count * heads).fill(IGNORE_TARGET);
  const rowFloats = seqLen * reader.dModel;
  const fields: number[][] = directions.map(() => []);
  const targets: number[] = [];
  let targetDim = heads;
  const chunks = Math.ceil(count / chunk);
  probe.setStep(eps);
  const save = rt.device.createCommandEncoder({ label: 'edge-modes.save' });
  probe.encodeSave(save);
  rt.device.queue.submit([save.finish()]);
  try {
    for (let c = 0; c < chunks; c++) {
      const start = c * chunk;
      const n = Math.min(chunk, count - start);
      reader.graph.setBatch({
        tokens: padChunk(data.tokens, seqLen, start, n, chunk),
        targets: noTargets,
        ...(sourceLen !== undefined && data.source && { source: padChunk(data.source, sourceLen, start, n, chunk) }),
      });
      const encoder = rt.device.createCommandEncoder({ label: 'edge-modes.chunk' });
      const reads: (() => Promise<ArrayBuffer>)[] = [];
      const evaluate = (sign: 0 | 1) => {
        probe.encodeEvaluate(encoder, sign, false);
        reads.push(rt.scheduleRead(encoder, reader.graph.residual, 0, n * rowFloats * 4));
      };
      evaluate(0);
      for (const d of directions) {
        probe.encodeDirection(encoder, d);
        evaluate(1);
      }
      rt.device.queue.submit([encoder.finish()]);
      const part: Batch = {
        tokens: data.tokens.subarray(start * seqLen, (start + n) * seqLen),
        targets: data.targets.subarray(start * readout.count * heads, (start + n) * readout.count * heads),
      };
      const [base, ...moved] = await Promise.all(reads.map(async (read) => scoredPositions(reader, new Float32Array(await read()), part)));
      targets.push(...base.targets);
      targetDim = base.targetDim;
      const d = reader.dModel;
      moved.forEach((m, j) => {
        for (let x = 0; x < base.features.length / d; x++) {
          let sum = 0;
          for (let i = x * d; i < (x + 1) * d; i++) sum += (m.features[i] - base.features[i]) ** 2;
          if (!Number.isFinite(sum)) throw new NonFiniteError(`the response field's residual stream moved along direction ${j}`, [sum]);
          fields[j].push(sum);
        }
      });
      options.progress?.(c + 1, chunks);
    }
  } finally {
    const restore = rt.device.createCommandEncoder({ label: 'edge-modes.restore' });
    probe.encodeRestore(restore);
    rt.device.queue.submit([restore.finish()]);
    await rt.finish();
    probe.destroy();
  }
  return { eps, thetaAttnNorm, targets: Float64Array.from(targets), targetDim, fields: fields.map((f) => Float64Array.from(f)) };
}

/** Sequences [start, start + n) of `all` (each `len` long) as `size` sequences, the missing ones copies of the first. */
function padChunk(all: Uint32Array, len: number, start: number, n: number, size: number): Uint32Array {
  const out = new Uint32Array(size * len);
  out.set(all.subarray(start * len, (start + n) * len));
  for (let i = n; i < size; i++) out.copyWithin(i * len, 0, len);
  return out;
}

/** `count` seeded random unit vectors over P parameters (normal entries, normalised in float64), as float32. */
export function randomUnitDirections(seed: number, P: number, count: number): Float32Array {
  const rng = Rng.derive(seed, 'edge-modes.random');
  const out = new Float32Array(count * P);
  for (let j = 0; j < count; j++) {
    const v = Float64Array.from({ length: P }, () => rng.normal());
    const norm = Math.sqrt(v.reduce((s, x) => s + x * x, 0));
    out.set(v.map((x) => x / norm), j * P);
  }
  return out;
}

// ---- The experiment ------------------------------------------------------------------------------------------

export interface EdgeModesOptions {
  /** Edge directions v_1..v_k (default: every one the context holds). */
  k?: number;
  /** Random control directions (default 2). */
  random?: number;
  /** e = scale ||theta_attn|| (default 0.005). */
  scale?: number;
  /** Sequences per forward pass (default up to 512). */
  chunk?: number;
  /** Test sequences used: every held-out pair for modular arithmetic, the first 300 for Dyck (default). */
  sequences?: number;
  /** Strongest 2-D frequency pairs listed per direction (default 6). */
  gridPeaks?: number;
  /** Seeded shuffles of each field for the permutation null (default 20; 0: no null). */
  permutations?: number;
}

const OP_BASES: Partial<Record<ModOp, ModBasis[]>> = { add: ['add'], sub: ['sub'], mul: ['mulRaw', 'mulLog'] };

type Task = { kind: 'modarith' | 'multitask'; p: number } | { kind: 'dyck' };

function taskOf(ctx: AnalysisContext): Task {
  const { config, graph } = ctx.engine;
  const { seqLen, readout } = graph.shape;
  if (isEncoderDecoder(config)) throw new NotApplicableError('functional modes are defined for modular arithmetic and Dyck (docs/science.md §3.7); an encoder-decoder (SCAN) model has no operand or depth basis');
  if (seqLen === 2 && readout.start === 0 && readout.count === 1 && config.vocabSize === config.nClasses && config.vocabSize >= 3 && isPrime(config.vocabSize)) {
    return { kind: taskHeadCount(config) > 1 ? 'multitask' : 'modarith', p: config.vocabSize };
  }
  if (config.nClasses === DYCK.classes && config.vocabSize === 3 && seqLen === DYCK.context) return { kind: 'dyck' };
  throw new NotApplicableError(
    `functional modes need a modular-arithmetic model (inputs [a, b] mod a prime p, read out at position 0) or a Dyck model; this one has ${config.vocabSize} tokens, ${config.nClasses} classes, ${seqLen} positions`,
  );
}

/** The op each head's labels follow on the test pairs (a[i], b[i]), or null. */
function headOps(a: Uint32Array, b: Uint32Array, targets: Int32Array, heads: number, p: number): HeadBases[] {
  return Array.from({ length: heads }, (_, head) => {
    const op = (Object.keys(MOD_OPS) as ModOp[]).find((name) => a.every((x, i) => MOD_OPS[name](x, b[i], p) === targets[i * heads + head])) ?? null;
    return { head, op, bases: op ? [...(OP_BASES[op] ?? [])] : [] };
  });
}

/**
 * The permutation null of a concentration: `spectrumOf` (values -> F) of `count` shuffles of `values` drawn from
 * `rng`, against F of `values` itself.
 */
export function permutationNull(values: ArrayLike<number>, spectrumOf: (values: Float64Array) => number, rng: Rng, count: number): PermutationNull {
  if (!(Number.isInteger(count) && count >= 1)) throw new RangeError(`permutationNull: count must be a positive integer, got ${count}`);
  const observed = spectrumOf(Float64Array.from(values));
  let sum = 0;
  let reached = 0;
  for (let t = 0; t < count; t++) {
    const shuffled = Array.from(values);
    rng.shuffle(shuffled);
    const f = spectrumOf(Float64Array.from(shuffled));
    sum += f;
    if (f >= observed) reached++;
  }
  return { mean: sum / count, exceedance: reached / count };
}

const basisModes = (s: GroupedSpectrum, nul: PermutationNull | null): BasisModes => ({
  modulus: s.modulus,
  power: Array.from(s.power),
  concentration: s.concentration,
  peakFrequency: s.peakFrequency,
  uniformLevel: s.uniformLevel,
  groupMeans: Array.from(s.groupMeans),
  missingGroups: s.missingGroups,
  excludedPoints: s.excludedPairs,
  nullConcentration: nul ? nul.mean : null,
  nullExceedance: nul ? nul.exceedance : null,
});

/** The full p x p normalised 2-D power of a field, from every frequency pair of gridSpectrum. */
function fullGrid(field: ResponseField): number[] {
  const p = field.p;
  const all = gridSpectrum(field, p * p);
  const power = new Array<number>(p * p).fill(0);
  for (const { k1, k2, power: share } of all.peaks) {
    const i = (((k1 % p) + p) % p) * p + (((k2 % p) + p) % p);
    const j = (((-k1 % p) + p) % p) * p + (((-k2 % p) + p) % p);
    power[i] = i === j ? share : share / 2;
    power[j] = power[i];
  }
  return power;
}

/**
 * The functional-modes experiment of docs/science.md §3.7: the response fields of v_1..v_k and `random` seeded random unit
 * directions over theta_attn on the held-out set, and their spectra in every basis that applies (see the header).
 * NotApplicableError for SCAN and other models without an operand or depth basis.
 */
export async function edgeFunctionalModes(ctx: AnalysisContext, options: EdgeModesOptions = {}): Promise<FunctionalModesResult> {
  const task = taskOf(ctx);
  const { engine, edges } = ctx;
  const k = options.k ?? edges.count;
  const random = options.random ?? EDGE_MODES_DEFAULTS.random;
  const gridPeaks = options.gridPeaks ?? EDGE_MODES_DEFAULTS.gridPeaks;
  if (!(Number.isInteger(k) && k >= 1 && k <= edges.count)) throw new RangeError(`functional modes: k must be an integer in [1, ${edges.count}], got ${k}`);
  if (!(Number.isInteger(random) && random >= 0)) throw new RangeError(`functional modes: random must be a non-negative integer, got ${random}`);
  if (!(Number.isInteger(gridPeaks) && gridPeaks >= 1)) throw new RangeError(`functional modes: gridPeaks must be a positive integer, got ${gridPeaks}`);
  const permutations = options.permutations ?? EDGE_MODES_DEFAULTS.permutations;
  if (!(Number.isInteger(permutations) && permutations >= 0)) throw new RangeError(`functional modes: permutations must be a non-negative integer, got ${permutations}`);
  const rng = Rng.derive(ctx.seed, 'edge-modes.permutation');
  const nullOf = (values: ArrayLike<number>, concentration: (v: Float64Array) => number) => (permutations > 0 ? permutationNull(values, concentration, rng, permutations) : null);
  const attn = engine.table.attn;
  if (edges.paramOffset !== attn.offset || edges.P !== attn.size) {
    throw new NotApplicableError(`functional modes perturb theta_attn; the edge vectors span parameters [${edges.paramOffset}, ${edges.paramOffset + edges.P}) (recorded with --subset all?)`);
  }
  const { seqLen, readout } = engine.graph.shape;
  const heads = taskHeadCount(engine.config);
  const available = ctx.test.tokens.length / seqLen;
  const sequences = options.sequences ?? (task.kind === 'dyck' ? Math.min(EDGE_MODES_DEFAULTS.dyckSequences, available) : available);
  if (!(Number.isInteger(sequences) && sequences >= 1 && sequences <= available)) throw new RangeError(`functional modes: sequences must be an integer in [1, ${available}], got ${sequences}`);
  const data = firstSequences(ctx.test, { seqLen, readout }, heads, sequences);

  const rt = engine.runtime;
  const controls = random > 0 ? rt.storageFrom('edge-modes.random', randomUnitDirections(ctx.seed, attn.size, random)) : null;
  const directions = [
    ...Array.from({ length: k }, (_, j) => at(edges.buffer, edges.vectorOffset(j))),
    ...Array.from({ length: random }, (_, j) => at(controls!, j * attn.size)),
  ];
  const labels = [...Array.from({ length: k }, (_, j) => `v${j + 1}`), ...Array.from({ length: random }, (_, j) => `random${j + 1}`)];
  const chunks = Math.ceil(sequences / (options.chunk ?? Math.min(sequences, EDGE_MODES_DEFAULTS.chunk)));
  ctx.progress?.(0, chunks + 1, 'response fields');
  let fields: ResponseFields;
  try {
    fields = await responseFields(engine, data, directions, {
      ...(options.scale !== undefined && { scale: options.scale }),
      ...(options.chunk !== undefined && { chunk: options.chunk }),
      progress: (done, total) => ctx.progress?.(done, total + 1, `response fields: chunk ${done} of ${total}`),
    });
  } finally {
    controls?.destroy();
  }
  const scale = options.scale ?? EDGE_MODES_DEFAULTS.scale;
  const common = { scale, eps: fields.eps, thetaAttnNorm: fields.thetaAttnNorm, sequences, points: fields.fields[0].length };
  const mean = (f: Float64Array) => f.reduce((s, x) => s + x, 0) / f.length;
  let result: FunctionalModesResult;
  if (task.kind === 'dyck') {
    const depths = Int32Array.from(fields.targets);
    result = {
      task: 'dyck', p: null, ...common, heads: null, gridV1: null,
      directions: fields.fields.map((f, j) => ({
        label: labels[j], kind: j < k ? 'edge' : 'random', meanResponse: mean(f), grid: null, offDiagonal: null,
        bases: { depth: basisModes(depthSpectrum(f, depths), nullOf(f, (v) => depthSpectrum(v, depths).concentration)) },
      })),
    };
  } else {
    const { p } = task;
    // One point per test pair (readout position 0 is always scored): operands = the sequence's two tokens.
    const a = Uint32Array.from({ length: sequences }, (_, i) => data.tokens[2 * i]);
    const b = Uint32Array.from({ length: sequences }, (_, i) => data.tokens[2 * i + 1]);
    if (common.points !== sequences) throw new Error(`functional modes: ${common.points} scored points for ${sequences} pairs (an ignored target?)`);
    const fieldOf = (values: Float64Array): ResponseField => ({ p, a, b, values });
    const modBases = (field: ResponseField) => {
      const spectra = allBasisSpectra(field);
      return Object.fromEntries(MOD_BASES.map((basis) => {
        const { q, modulus } = basisVariable(field, basis);
        return [basis, basisModes(spectra[basis], nullOf(field.values, (v) => groupedSpectrum(v, q, modulus).concentration))];
      })) as Record<ModBasis, BasisModes>;
    };
    const offDiagonal = Array.from({ length: sequences }, (_, i) => i).filter((i) => a[i] !== b[i]);
    const diagonalPairs = sequences - offDiagonal.length;
    const offA = Uint32Array.from(offDiagonal, (i) => a[i]);
    const offB = Uint32Array.from(offDiagonal, (i) => b[i]);
    const offDiagonalModes = (f: Float64Array) => {
      if (offDiagonal.length === 0) return null;
      const values = Float64Array.from(offDiagonal, (i) => f[i]);
      const diagonalMean = diagonalPairs > 0 ? (f.reduce((s, x) => s + x, 0) - values.reduce((s, x) => s + x, 0)) / diagonalPairs : NaN;
      const ratio = diagonalMean / mean(values);
      return { bases: modBases({ p, a: offA, b: offB, values }), diagonalPairs, diagonalResponseRatio: Number.isFinite(ratio) ? ratio : null };
    };
    result = {
      task: task.kind, p, ...common, heads: headOps(a, b, data.targets, heads, p),
      gridV1: { p, power: fullGrid(fieldOf(fields.fields[0])) },
      directions: fields.fields.map((f, j) => {
        const grid = gridSpectrum(fieldOf(f), gridPeaks);
        return {
          label: labels[j], kind: j < k ? 'edge' : 'random', meanResponse: mean(f),
          bases: modBases(fieldOf(f)),
          offDiagonal: offDiagonalModes(f),
          grid: { peaks: grid.peaks.map(({ k1, k2, power }) => ({ k1, k2, power })), concentration: grid.concentration, uniformLevel: grid.uniformLevel, observedCells: grid.observedCells },
        };
      }),
    };
  }
  ctx.progress?.(chunks + 1, chunks + 1, 'spectra done');
  return result;
}
