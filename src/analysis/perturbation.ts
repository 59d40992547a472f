// The perturbation sweep (docs/science.md §3.2): the model at theta_attn + eps v for eps on a grid (default 25 points over
// [-0.03, 0.03], absolute: ||v|| = 1), along each edge direction v_1..v_K and along seeded random unit directions
// over the same slice (the control band), on the first 200 test sequences. For each eps: the loss (as the engine
// reports it), token accuracy, KL(base || perturbed) averaged over the scored targets, and the mean attention
// entropy (src/analysis/attention-entropy.ts).
//
// GPU work: one forward-only graph whose batch is all the swept sequences, built on engine.state, and a parameter
// probe over the edge vectors' slice (src/spectral/param-probe.ts), which writes theta = saved + s * d and restores
// the saved slice exactly. One submit per direction: the direction is copied into a scratch vector, and for each
// distinct |eps| of the grid one prebuilt axpy (src/spectral/vector-ops.ts) writes the probe's direction d = |eps| v,
// then the probe evaluates theta +- d (the signs the grid holds) with the entropy rows after each forward pass, each
// evaluation's logits, losses and row entropies read back. The base point (eps = 0) is evaluated once, and grid
// points eps = 0 reuse it.
//
// On the CPU, in float64: softmax of the base and perturbed logits per scored target, KL(p_base || p_eps) =
// sum_c p_base,c (ln p_base,c - ln p_eps,c), averaged over the scored targets; accuracy = argmax equals the target.
import { at, type GpuRuntime } from '../gpu/runtime';
import { IGNORE_TARGET, type Batch } from '../model/batch';
import { buildTransformerGraph } from '../model/transformer';
import { ParamProbe } from '../spectral/param-probe';
import { axpyCall, VectorOp } from '../spectral/vector-ops';
import { argmax } from '../train/predictions';
import { Rng } from '../util/random';
import { AttentionEntropy, meanCounted } from './attention-entropy';
import { testSubset, type AnalysisContext } from './context';
import { PerturbationCurve, BandStats, PerturbationResult } from '../formats/experiments';

export interface PerturbationOptions {
  /** The eps grid (absolute steps along unit directions); default `epsGrid(0.03, 25)`. */
  eps?: number[];
  /** Edge directions v_1..v_k swept; default every one the context holds. */
  k?: number;
  /** Seeded random unit directions for the control band; default 8 (at least 1). */
  randomCount?: number;
  /** The control band's directions themselves (unit vectors over the slice), instead of `randomCount` seeded ones. */
  randomDirections?: Float32Array[];
  /** The first `sequences` test sequences; default 200. */
  sequences?: number;
}

/** `points` equally spaced values over [-max, max] (both ends included). */
export function epsGrid(max = 0.03, points = 25): number[] {
  if (!(max > 0 && Number.isFinite(max))) throw new Error(`eps grid: max must be a positive finite number, got ${max}`);
  if (!Number.isInteger(points) || points < 2) throw new Error(`eps grid: points must be an integer >= 2, got ${points}`);
  // max * (2i - (points - 1)) / (points - 1): exactly symmetric about 0 (point i and points - 1 - i are negatives).
  return Array.from({ length: points }, (_, i) => (max * (2 * i - (points - 1))) / (points - 1) || 0);
}

/**
 * Random unit direction `index` of an experiment's control set over P parameters: standard normal entries from a
 * generator derived from (seed, stream, index), normalised in float64, rounded to float32. The same for any count.
 */
export function randomUnitDirection(seed: number, stream: string, index: number, P: number): Float32Array {
  const rng = Rng.derive(seed, `${stream}.${index}`);
  const v = Float64Array.from({ length: P }, () => rng.normal());
  let square = 0;
  for (const x of v) square += x * x;
  const norm = Math.sqrt(square);
  return Float32Array.from(v, (x) => x / norm);
}

/** Positive integer option (or its default); an error that names it otherwise. */
export function positiveInteger(what: string, name: string, value: number | undefined, fallback: number, min = 1): number {
  const v = value ?? fallback;
  if (!Number.isInteger(v) || v < min) throw new Error(`${what}: ${name} must be an integer >= ${min}, got ${v}`);
  return v;
}

/** The number of edge directions to use: k of the context's vectors, checked to fit their buffer. */
export function edgeCount(what: string, ctx: AnalysisContext, k: number | undefined): number {
  const { edges } = ctx;
  if (edges.count < 1) throw new Error(`${what}: the context has no edge directions`);
  const n = positiveInteger(what, 'k', k, edges.count);
  if (n > edges.count) throw new Error(`${what}: k = ${n} edge directions asked for, the context holds ${edges.count}`);
  for (let j = 0; j < n; j++) {
    const offset = edges.vectorOffset(j);
    if (!Number.isInteger(offset) || offset < 0 || offset + edges.P > edges.buffer.size / 4) {
      throw new Error(`${what}: edge direction ${j + 1} at element ${offset} does not fit in its buffer of ${edges.buffer.size / 4} floats`);
    }
  }
  return n;
}

/** The first `sequences` test sequences (an error when there are none). */
export function analysedSequences(what: string, ctx: AnalysisContext, sequences: number): { data: Batch; n: number; scored: number } {
  const data = testSubset(ctx, sequences);
  const n = data.tokens.length / ctx.engine.graph.shape.seqLen;
  if (n < 1) throw new Error(`${what}: the test set holds no sequences`);
  const scored = data.targets.reduce((s, t) => s + (t === IGNORE_TARGET ? 0 : 1), 0);
  if (scored === 0) throw new Error(`${what}: the ${n} test sequences have no scored target`);
  return { data, n, scored };
}

/** log-softmax of every row of logits [rows, classes], in float64. */
function logSoftmax(logits: Float32Array, rows: number, classes: number): Float64Array {
  const out = new Float64Array(rows * classes);
  for (let r = 0; r < rows; r++) {
    const o = r * classes;
    let max = -Infinity;
    for (let c = 0; c < classes; c++) max = Math.max(max, logits[o + c]);
    let sum = 0;
    for (let c = 0; c < classes; c++) sum += Math.exp(logits[o + c] - max);
    const lse = max + Math.log(sum);
    for (let c = 0; c < classes; c++) out[o + c] = logits[o + c] - lse;
  }
  return out;
}

/** What one evaluation reads back. */
interface Readout {
  logits: Float32Array;
  losses: Float32Array;
  entropies: Float32Array;
}

export async function perturbationSweep(ctx: AnalysisContext, options: PerturbationOptions = {}): Promise<PerturbationResult> {
  const what = 'perturbation sweep';
  const { engine, edges } = ctx;
  const rt: GpuRuntime = engine.runtime;
  const eps = options.eps ?? epsGrid();
  if (!Array.isArray(eps) || eps.length === 0) throw new Error(`${what}: the eps grid is empty`);
  eps.forEach((e, i) => {
    if (typeof e !== 'number' || !Number.isFinite(e)) throw new Error(`${what}: eps[${i}] must be a finite number, got ${e}`);
  });
  const k = edgeCount(what, ctx, options.k);
  const given = options.randomDirections;
  if (given && options.randomCount !== undefined) throw new Error(`${what}: give randomCount or randomDirections, not both`);
  given?.forEach((d, j) => {
    if (d.length !== edges.P) throw new Error(`${what}: randomDirections[${j}] has ${d.length} entries, the slice ${edges.P}`);
  });
  const randomCount = given ? given.length : positiveInteger(what, 'randomCount', options.randomCount, 8);
  if (randomCount < 1) throw new Error(`${what}: the control band needs at least one random direction`);
  const randomDirection = (j: number) => given?.[j] ?? randomUnitDirection(ctx.seed, 'perturbation', j, edges.P);
  const { data, n, scored } = analysedSequences(what, ctx, positiveInteger(what, 'sequences', options.sequences, 200));

  const { config } = engine;
  const classes = config.nClasses;
  const rows = data.targets.length;
  const P = edges.P;
  const graph = await buildTransformerGraph(rt, config, engine.state, { ...engine.graph.shape, batch: n }, { backward: false });
  const probe = await ParamProbe.create(engine, { graph, slice: { offset: edges.paramOffset, size: P } });
  const entropy = await AttentionEntropy.create(rt, graph);
  const scratch = rt.storage('perturbation.direction', P * 4);
  // One scale op per distinct |eps| > 0: the probe's direction = |eps| * scratch (uniforms fixed for the sweep).
  const magnitudes = [...new Set(eps.filter((e) => e !== 0).map(Math.abs))].sort((a, b) => a - b);
  const scales: VectorOp[] = [];
  try {
    for (const m of magnitudes) scales.push(await VectorOp.create(rt, axpyCall({ x: at(scratch), y: at(scratch), out: probe.direction, n: P, alpha: m, beta: 0 })));
    probe.setStep(1);
    graph.setBatch(data);
    const counted = entropy.countedRows(data, n);

    const scheduleReadout = (encoder: GPUCommandEncoder): (() => Promise<Readout>) => {
      const logits = rt.scheduleRead(encoder, graph.logits, 0, rows * classes * 4);
      const losses = rt.scheduleRead(encoder, graph.losses, 0, rows * 4);
      const entropies = entropy.encodeAndRead(encoder);
      return async () => ({ logits: new Float32Array(await logits()), losses: new Float32Array(await losses()), entropies: await entropies() });
    };

    // The base point.
    let encoder = rt.device.createCommandEncoder({ label: 'perturbation.base' });
    probe.encodeSave(encoder);
    probe.encodeEvaluate(encoder, 0, false);
    const readBase = scheduleReadout(encoder);
    probe.encodeRestore(encoder);
    rt.device.queue.submit([encoder.finish()]);
    const baseOut = await readBase();
    const baseLog = logSoftmax(baseOut.logits, rows, classes);
    const metrics = (out: Readout) => {
      let kl = 0;
      let correct = 0;
      for (let r = 0; r < rows; r++) {
        const target = data.targets[r];
        if (target === IGNORE_TARGET) continue;
        if (argmax(out.logits, r * classes, classes) === target) correct += 1;
        if (out === baseOut) continue;
        const o = r * classes;
        let max = -Infinity;
        for (let c = 0; c < classes; c++) max = Math.max(max, out.logits[o + c]);
        let sum = 0;
        for (let c = 0; c < classes; c++) sum += Math.exp(out.logits[o + c] - max);
        const lse = max + Math.log(sum);
        let row = 0;
        for (let c = 0; c < classes; c++) row += Math.exp(baseLog[o + c]) * (baseLog[o + c] - (out.logits[o + c] - lse));
        kl += row;
      }
      return { loss: probe.meanLoss(out.losses, data), accuracy: correct / scored, kl: kl / scored, attentionEntropy: meanCounted(out.entropies, counted) };
    };
    const base = metrics(baseOut);

    // One submit per direction: every nonzero eps of the grid.
    const directions = k + randomCount;
    const sweep = async (j: number): Promise<PerturbationCurve> => {
      encoder = rt.device.createCommandEncoder({ label: `perturbation.${j}` });
      if (j < k) encoder.copyBufferToBuffer(edges.buffer, edges.vectorOffset(j) * 4, scratch, 0, P * 4);
      else rt.write(scratch, randomDirection(j - k));
      probe.encodeSave(encoder);
      const reads = new Map<number, () => Promise<Readout>>();
      magnitudes.forEach((m, i) => {
        rt.encode(encoder, [scales[i].dispatch]);
        for (const sign of [-1, 1] as const) {
          if (!eps.includes(sign * m)) continue;
          probe.encodeEvaluate(encoder, sign, false);
          reads.set(sign * m, scheduleReadout(encoder));
        }
      });
      probe.encodeRestore(encoder);
      rt.device.queue.submit([encoder.finish()]);
      const results = new Map<number, ReturnType<typeof metrics>>();
      for (const [e, read] of reads) results.set(e, metrics(await read()));
      const points = eps.map((e) => (e === 0 ? { ...base, kl: 0 } : results.get(e)!));
      ctx.progress?.(j + 1, directions, j < k ? `v_${j + 1}` : `random direction ${j - k + 1} of ${randomCount}`);
      return { loss: points.map((m) => m.loss), accuracy: points.map((m) => m.accuracy), kl: points.map((m) => m.kl), attentionEntropy: points.map((m) => m.attentionEntropy) };
    };
    const edge: PerturbationCurve[] = [];
    for (let j = 0; j < k; j++) edge.push(await sweep(j));
    const random: PerturbationCurve[] = [];
    for (let j = 0; j < randomCount; j++) random.push(await sweep(k + j));

    const band = (metric: keyof PerturbationCurve): BandStats => ({
      min: eps.map((_, i) => Math.min(...random.map((c) => c[metric][i]))),
      mean: eps.map((_, i) => random.reduce((s, c) => s + c[metric][i], 0) / randomCount),
      max: eps.map((_, i) => Math.max(...random.map((c) => c[metric][i]))),
    });
    const maxKl = (c: PerturbationCurve) => Math.max(...c.kl);
    return {
      eps: [...eps],
      sequences: n,
      scoredTargets: scored,
      base: { loss: base.loss, accuracy: base.accuracy, attentionEntropy: base.attentionEntropy },
      edge,
      random: { count: randomCount, seed: ctx.seed, curves: random, loss: band('loss'), accuracy: band('accuracy'), kl: band('kl'), attentionEntropy: band('attentionEntropy') },
      summary: {
        edgeMaxKl: edge.map(maxKl),
        randomMaxKl: Math.max(...random.map(maxKl)),
        randomMeanMaxKl: random.reduce((s, c) => s + maxKl(c), 0) / randomCount,
      },
    };
  } finally {
    probe.destroy();
    entropy.destroy();
    scratch.destroy();
  }
}
