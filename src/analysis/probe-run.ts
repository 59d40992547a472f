// The probes of docs/science.md §3.6 run on a model: the residual stream after the last block (before the final LayerNorm) at
// every scored position of a set of sequences, regressed on those positions' targets by the linear, quadratic
// and MLP probes (src/analysis/probes.ts), all three on the same seeded 70/30 split.
//
// Dyck depth: the first 300 sequences of the fixed Dyck test set (src/tasks/dyck.ts), every non-PAD position,
// target = the depth after that token (its label). The same function takes any task's batch: for SCAN the
// targets are the decoder's target token ids at its non-PAD positions.
import { IGNORE_TARGET, type Batch } from '../model/batch';
import { isEncoderDecoder, taskHeadCount } from '../model/config';
import { DYCK, dyckBatch, dyckSplit } from '../tasks/dyck';
import { probeR2 } from './probes';
import { ProbeScores, ProbeExperimentResult, type ProbeKind } from '../formats/experiments';
import { ResidualStreamReader } from './residual-stream';
import { initParams } from '../model/params';
import { createParamState } from '../model/state';
import { firstSequences, NotApplicableError, type AnalysisContext } from './context';

export const DEPTH_PROBE_SEQUENCES = 300;

const KINDS: ProbeKind[] = ['linear', 'quadratic', 'mlp'];

/**
 * The residual-stream rows and targets of the scored positions of `data`: a readout position counts when every
 * task head scores it (target not IGNORE_TARGET); its targets are one column per head.
 */
export function scoredPositions(reader: ResidualStreamReader, residual: Float32Array, data: Batch): { features: Float32Array; targets: Float64Array; targetDim: number } {
  const { config, shape } = reader.graph;
  const { seqLen, readout } = shape;
  const d = reader.dModel;
  const heads = taskHeadCount(config);
  const count = data.tokens.length / seqLen;
  if (residual.length !== count * seqLen * d) throw new Error(`residual stream holds ${residual.length} values, expected ${count} x ${seqLen} x ${d}`);
  if (data.targets.length !== count * readout.count * heads) throw new Error(`${data.targets.length} targets for ${count} sequences of ${readout.count} readout positions x ${heads} heads`);
  const rows: number[] = [];
  const targets: number[] = [];
  for (let s = 0; s < count; s++) {
    for (let r = 0; r < readout.count; r++) {
      const first = (s * readout.count + r) * heads;
      const y = data.targets.subarray(first, first + heads);
      if (y.includes(IGNORE_TARGET)) continue;
      rows.push(s * seqLen + readout.start + r);
      targets.push(...y);
    }
  }
  const features = new Float32Array(rows.length * d);
  rows.forEach((row, i) => features.set(residual.subarray(row * d, (row + 1) * d), i * d));
  return { features, targets: Float64Array.from(targets), targetDim: heads };
}

/** Linear, quadratic and MLP probe R^2 from the residual stream at the scored positions of `data` to their targets. */
export async function residualProbes(reader: ResidualStreamReader, data: Batch, seed: number): Promise<ProbeScores> {
  const { features, targets, targetDim } = scoredPositions(reader, await reader.read(data), data);
  const scores = Object.fromEntries(KINDS.map((kind) => [kind, probeR2(features, targets, { kind, seed, targetDim })])) as Record<ProbeKind, number>;
  return { ...scores, positions: targets.length / targetDim };
}

/** The Dyck depth probe: the first `sequences` (300) test sequences, every non-PAD position, target = depth. */
export async function depthProbe(reader: ResidualStreamReader, opts: { seed: number; sequences?: number }): Promise<ProbeScores> {
  const { config, shape } = reader.graph;
  if (isEncoderDecoder(config) || config.nClasses !== DYCK.classes || shape.seqLen !== DYCK.context) {
    throw new Error(`the depth probe needs a Dyck model (${DYCK.classes} classes, ${DYCK.context} positions)`);
  }
  const sequences = opts.sequences ?? DEPTH_PROBE_SEQUENCES;
  const test = dyckSplit().test;
  if (!(Number.isInteger(sequences) && sequences > 0 && sequences <= test.count)) throw new Error(`sequences must be an integer in [1, ${test.count}], got ${sequences}`);
  return residualProbes(reader, dyckBatch(test, Array.from({ length: sequences }, (_, i) => i)), opts.seed);
}

/**
 * The probe experiment of docs/science.md §3.6 on the analysed model and, as a baseline, on the run's initial parameters (`seed`:
 * the run's seed): Dyck depth probes, or SCAN decoder-token probes on the first `sequences` test sequences. Other
 * tasks have no probe target (NotApplicableError).
 */
export async function probeExperiment(ctx: AnalysisContext, seed: number, sequences = DEPTH_PROBE_SEQUENCES): Promise<ProbeExperimentResult> {
  const { engine } = ctx;
  const { config } = engine;
  const scan = isEncoderDecoder(config);
  if (!scan && config.nClasses !== DYCK.classes) throw new NotApplicableError('probes are defined for Dyck depth and SCAN tokens (docs/science.md §3.6); this task has no probe target');
  const rt = engine.runtime;
  const { seqLen, readout, sourceLen } = engine.graph.shape;
  const shape = { seqLen, readout, ...(sourceLen !== undefined && { sourceLen }) };
  const chunk = Math.min(sequences, 100);
  const data = scan ? firstSequences(ctx.test, shape, taskHeadCount(config), sequences) : null;
  const probe = (reader: ResidualStreamReader) => (data ? residualProbes(reader, data, ctx.seed) : depthProbe(reader, { seed: ctx.seed, sequences }));
  ctx.progress?.(0, 2, 'probes on the trained model');
  const trained = await probe(await ResidualStreamReader.create(rt, config, engine.state, shape, chunk));
  ctx.progress?.(1, 2, 'probes on the untrained model');
  const initial = createParamState(rt, engine.table, initParams(engine.table, seed));
  try {
    const untrained = await probe(await ResidualStreamReader.create(rt, config, initial, shape, chunk));
    ctx.progress?.(2, 2, 'probes done');
    return { target: scan ? 'decoder-token' : 'dyck-depth', sequences: data ? data.tokens.length / seqLen : sequences, trained, untrained };
  } finally {
    for (const buffer of [initial.params, initial.grads, initial.m, initial.v]) buffer.destroy();
  }
}
