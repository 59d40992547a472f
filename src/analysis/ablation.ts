// Ablation of the spectral edge (docs/science.md §3.4): theta <- theta - sum_{k in S} <theta, v_k> v_k over the slice the edge
// vectors live in (theta_attn by default), for S = the edge {v1, v2}, the bulk {v3, v4} (K >= 4) and each single v_k,
// and as the control, `randomTrials` pairs of seeded random orthonormal directions removed the same way. Each
// ablated model is scored on the whole test set (token accuracy and loss, chunked Evaluator on engine.state) and
// compared with the unablated base.
//
// On the GPU: the slice is saved once; per set, the projections <theta, v_k> are per-part dot products against the
// saved slice (read back and added in float64), then the slice is rewritten as saved + sum_k (-<theta, v_k>) v_k by
// the row-combination kernel (src/spectral/vector-ops.ts). Afterwards the saved slice is copied back, so the
// parameters are restored bit for bit (never computed back). Random directions: float64 Gram-Schmidt on the CPU.
//
// Reporting (docs/science.md §3.4: honestly): the resolution is one token flip, 1 / scored targets; the random effects are listed
// with the mean, std and max of |delta accuracy|; the edge/random ratio |delta_edge| / mean |delta_random| is
// replaced by |delta_edge| / resolution, flagged as a lower bound, when the random mean is below one flip.
import { at, type GpuRuntime } from '../gpu/runtime';
import { Rng } from '../util/random';
import { combineCall, dotsCall, partsFor, scheduleSums, VectorOp } from '../spectral/vector-ops';
import { Evaluator, type EvalResult } from '../train/evaluator';
import { NotApplicableError, type AnalysisContext } from './context';
import { AblationEffect, AblationResult } from '../formats/experiments';

export interface AblationOptions {
  /** Random control trials, each removing 2 random orthonormal directions (docs/science.md §3.4: 20). */
  randomTrials?: number;
  /** Test sequences per evaluation forward pass (default min(512, test sequences)). */
  chunk?: number;
  /** Also remove each single v_k (default true; the live probes leave them out). */
  single?: boolean;
}

export const ABLATION_DEFAULTS = { randomTrials: 20, chunkMax: 512 } as const;

/**
 * `count` orthonormal directions of length P: standard normal vectors, Gram-Schmidt in float64 (twice, so they are
 * orthogonal to rounding), each normalised.
 */
export function randomOrthonormal(P: number, count: number, rng: Rng): Float64Array[] {
  if (!(Number.isInteger(P) && Number.isInteger(count) && count >= 1 && count <= P)) throw new Error(`randomOrthonormal: need 1 <= count <= P, got count ${count}, P ${P}`);
  const out: Float64Array[] = [];
  for (let j = 0; j < count; j++) {
    const v = Float64Array.from({ length: P }, () => rng.normal());
    for (let pass = 0; pass < 2; pass++) {
      for (const u of out) {
        let c = 0;
        for (let i = 0; i < P; i++) c += u[i] * v[i];
        for (let i = 0; i < P; i++) v[i] -= c * u[i];
      }
    }
    let norm = 0;
    for (let i = 0; i < P; i++) norm += v[i] * v[i];
    norm = Math.sqrt(norm);
    for (let i = 0; i < P; i++) v[i] /= norm;
    out.push(v);
  }
  return out;
}

/** The 2 random orthonormal directions of control trial `trial` (0-based) over a slice of P parameters. */
export function randomAblationDirections(seed: number, trial: number, P: number): Float64Array[] {
  return randomOrthonormal(P, 2, Rng.derive(seed, `ablation.random.${trial}`));
}

/** Sets the slice to saved - sum_k <saved, d_k> d_k for up to 2 directions d_k written into its own buffer. */
class SliceAblator {
  private constructor(
    private readonly rt: GpuRuntime,
    private readonly params: GPUBuffer,
    private readonly offset: number,
    private readonly P: number,
    private readonly b: { saved: GPUBuffer; directions: GPUBuffer; partials: GPUBuffer; coeff: GPUBuffer },
    private readonly ops: { dots: VectorOp; combine: VectorOp; norm: VectorOp },
  ) {}

  static async create(rt: GpuRuntime, params: GPUBuffer, offset: number, P: number): Promise<SliceAblator> {
    const b = {
      saved: rt.storage('ablation.saved', P * 4),
      directions: rt.storage('ablation.directions', 2 * P * 4),
      partials: rt.storage('ablation.partials', 2 * partsFor(P) * 4),
      coeff: rt.storage('ablation.coeff', 2 * 4),
    };
    const ops = {
      dots: await VectorOp.create(rt, SliceAblator.dots(b, P, 2)),
      combine: await VectorOp.create(rt, SliceAblator.combine(b, params, offset, P, 2)),
      norm: await VectorOp.create(rt, dotsCall({ a: at(b.saved), b: at(b.saved), partials: at(b.partials), n: P, rows: 1 })),
    };
    const ablator = new SliceAblator(rt, params, offset, P, b, ops);
    const encoder = rt.device.createCommandEncoder({ label: 'ablation.save' });
    encoder.copyBufferToBuffer(params, offset * 4, b.saved, 0, P * 4);
    rt.device.queue.submit([encoder.finish()]);
    return ablator;
  }

  private static dots(b: SliceAblator['b'], P: number, rows: number) {
    return dotsCall({ a: at(b.directions), b: at(b.saved), partials: at(b.partials), n: P, rows });
  }

  private static combine(b: SliceAblator['b'], params: GPUBuffer, offset: number, P: number, rows: number) {
    return combineCall({ src: at(b.directions), coeff: at(b.coeff), out: at(params, offset), n: P, rows, outRows: 1, keep: true });
  }

  /** ||saved slice||, from float32 partial sums added in float64. */
  async savedNorm(): Promise<number> {
    const encoder = this.rt.device.createCommandEncoder({ label: 'ablation.norm' });
    this.rt.encode(encoder, [this.ops.norm.dispatch]);
    const read = scheduleSums(this.rt, encoder, at(this.b.partials), this.P, 1);
    this.rt.device.queue.submit([encoder.finish()]);
    const [square] = await read();
    return Math.sqrt(square);
  }

  /**
   * Ablates the directions that `fill` copies into rows 0..rows-1 of `directions` (called with an encoder that is
   * submitted before the projections); returns the projections <saved, d_k>.
   */
  async ablate(rows: number, fill: (encoder: GPUCommandEncoder, directions: GPUBuffer) => void): Promise<number[]> {
    const { rt, b, P } = this;
    this.ops.dots.retarget(SliceAblator.dots(b, P, rows));
    this.ops.combine.retarget(SliceAblator.combine(b, this.params, this.offset, P, rows));
    const encoder = rt.device.createCommandEncoder({ label: 'ablation.project' });
    fill(encoder, b.directions);
    rt.encode(encoder, [this.ops.dots.dispatch]);
    const read = scheduleSums(rt, encoder, at(b.partials), P, rows);
    rt.device.queue.submit([encoder.finish()]);
    const projections = Array.from(await read());
    rt.write(b.coeff, Float32Array.from(projections, (c) => -c));
    const apply = rt.device.createCommandEncoder({ label: 'ablation.apply' });
    apply.copyBufferToBuffer(b.saved, 0, this.params, this.offset * 4, P * 4);
    rt.encode(apply, [this.ops.combine.dispatch]);
    rt.device.queue.submit([apply.finish()]);
    return projections;
  }

  /** Copies the saved slice back: the parameters are then bit for bit what they were. */
  restore(): void {
    const encoder = this.rt.device.createCommandEncoder({ label: 'ablation.restore' });
    encoder.copyBufferToBuffer(this.b.saved, 0, this.params, this.offset * 4, this.P * 4);
    this.rt.device.queue.submit([encoder.finish()]);
  }

  destroy(): void {
    for (const buffer of Object.values(this.b)) buffer.destroy();
  }
}

/** Correctly predicted scored targets (the evaluator's accuracy is correct / scored). */
const correctOf = (r: EvalResult) => Math.round(r.accuracy * r.scored);

export async function ablateEdge(ctx: AnalysisContext, options: AblationOptions = {}): Promise<AblationResult> {
  const { engine, edges, test, seed } = ctx;
  const rt = engine.runtime;
  const K = edges.count;
  if (K < 2) throw new NotApplicableError(`the edge ablation removes {v1, v2} and needs K >= 2 edge vectors; the run keeps ${K}`);
  const trials = options.randomTrials ?? ABLATION_DEFAULTS.randomTrials;
  if (!(Number.isInteger(trials) && trials >= 1)) throw new Error(`randomTrials must be a positive integer, got ${trials}`);
  const P = edges.P;
  if (edges.paramOffset + P > engine.table.total) throw new Error(`the edge vectors' slice [${edges.paramOffset}, ${edges.paramOffset + P}) is not inside the ${engine.table.total} parameters`);
  const { seqLen, readout, sourceLen } = engine.graph.shape;
  const sequences = test.tokens.length / seqLen;
  const chunk = options.chunk ?? Math.min(ABLATION_DEFAULTS.chunkMax, sequences);
  if (!(Number.isInteger(chunk) && chunk >= 1)) throw new Error(`chunk must be a positive integer, got ${chunk}`);
  const evaluator = await Evaluator.create(rt, engine.config, engine.state, { seqLen, readout, ...(sourceLen !== undefined && { sourceLen }) }, chunk);

  const sets: { name: string; vectors: number[] }[] = [
    { name: 'edge {v1, v2}', vectors: [1, 2] },
    ...(K >= 4 ? [{ name: 'bulk {v3, v4}', vectors: [3, 4] }] : []),
    ...(options.single ?? true ? Array.from({ length: K }, (_, k) => ({ name: `v${k + 1}`, vectors: [k + 1] })) : []),
  ];
  const total = 1 + sets.length + trials;
  let done = 0;
  const report = (what: string) => ctx.progress?.(done, total, what);

  report('base model');
  const base = await evaluator.evaluate(test);
  done += 1;
  if (base.scored === 0) throw new Error('the test set has no scored targets');
  const baseCorrect = correctOf(base);
  const effectOf = (vectors: number[], projections: number[], r: EvalResult): AblationEffect => ({
    vectors,
    projections,
    removedFraction: projections.reduce((a, c) => a + c * c, 0) / sliceNorm ** 2,
    accuracy: r.accuracy,
    loss: r.loss,
    deltaAccuracy: (correctOf(r) - baseCorrect) / base.scored,
    deltaLoss: r.loss - base.loss,
    deltaCorrect: correctOf(r) - baseCorrect,
  });

  const ablator = await SliceAblator.create(rt, engine.state.params, edges.paramOffset, P);
  const effects = new Map<string, AblationEffect>();
  const random: AblationEffect[] = [];
  let sliceNorm = 0;
  try {
    sliceNorm = await ablator.savedNorm();
    for (const set of sets) {
      report(`removing ${set.name}`);
      const projections = await ablator.ablate(set.vectors.length, (encoder, directions) => {
        set.vectors.forEach((k, row) => encoder.copyBufferToBuffer(edges.buffer, edges.vectorOffset(k - 1) * 4, directions, row * P * 4, P * 4));
      });
      effects.set(set.name, effectOf(set.vectors, projections, await evaluator.evaluate(test)));
      done += 1;
    }
    for (let trial = 0; trial < trials; trial++) {
      report(`removing random pair ${trial + 1} of ${trials}`);
      const pair = randomAblationDirections(seed, trial, P);
      const rows = new Float32Array(2 * P);
      pair.forEach((d, row) => rows.set(d, row * P));
      const projections = await ablator.ablate(2, (_, directions) => rt.write(directions, rows));
      random.push(effectOf([], projections, await evaluator.evaluate(test)));
      done += 1;
    }
  } finally {
    ablator.restore();
    await rt.device.queue.onSubmittedWorkDone();
    ablator.destroy();
  }
  report('done');

  const abs = random.map((e) => Math.abs(e.deltaAccuracy));
  const meanAbsDelta = abs.reduce((a, b) => a + b, 0) / trials;
  const stdAbsDelta = trials > 1 ? Math.sqrt(abs.reduce((a, x) => a + (x - meanAbsDelta) ** 2, 0) / (trials - 1)) : 0;
  const meanFlips = random.reduce((a, e) => a + Math.abs(e.deltaCorrect), 0) / trials;
  const resolution = 1 / base.scored;
  const edge = effects.get('edge {v1, v2}')!;
  const lowerBound = meanFlips < 1;
  return {
    paramOffset: edges.paramOffset,
    P,
    K,
    sliceNorm,
    scored: base.scored,
    sequences,
    base: { accuracy: base.accuracy, loss: base.loss },
    resolution,
    edge,
    bulk: effects.get('bulk {v3, v4}') ?? null,
    single: Array.from({ length: K }, (_, k) => effects.get(`v${k + 1}`)).filter((e) => e !== undefined),
    random: {
      trials,
      seed,
      effects: random,
      meanAbsDelta,
      stdAbsDelta,
      maxAbsDelta: Math.max(...abs),
      meanAbsDeltaLoss: random.reduce((a, e) => a + Math.abs(e.deltaLoss), 0) / trials,
    },
    ratio: { value: Math.abs(edge.deltaAccuracy) / (lowerBound ? resolution : meanAbsDelta), lowerBound, resolution },
  };
}
