// `npm run bench -- --sweep`: the training step over model width and batch size, to see where it turns from
// dispatch-bound (a step costs about what the smallest step costs: per-dispatch and per-submission overheads) to
// compute-bound (its time grows with its FLOPs). The model is the modarith paper model (2 layers, 4 heads,
// p = 97, two tokens, d_ff = 2 d_model) at each width; FLOPs are counted from the shapes of the step's matmuls
// and attention (forward and backward). Each cell is timed as the trainer runs: several steps per submission,
// at most two in flight. A software adapter skips the cells above maxGflopPerStep (it reaches ~1 GFLOP/s).
import type { GpuRuntime } from '../gpu/runtime';
import { MAX_STEPS_PER_SUBMISSION, TrainingEngine } from '../model/engine';
import { PRESET_SHAPES, PRESET_SIZES, PRESET_TASKS, taskModel } from '../train/presets';
import { syntheticBatch } from '../tasks/synthetic';
import { timeSteps } from './step-timing';
import { round } from './round';
import type { AdapterSummary } from '../gpu/device';
import type { ModelConfig } from '../formats/model-config';

export const SWEEP_KIND = 'spectral-edge-lab-sweep';
export const SWEEP_WIDTHS = [64, 128, 256, 512] as const;
export const SWEEP_BATCHES = [16, 128, 1024] as const;
/** The largest step a software adapter times (about 5 s a step at its ~1 GFLOP/s). */
export const SOFTWARE_MAX_GFLOP = 5;

export interface SweepCell {
  dModel: number;
  batch: number;
  params: number;
  dispatchesPerStep: number;
  gflopPerStep: number;
  stepsTimed: number;
  msPerStep: number;
  gflops: number;
  /** 'dispatch' when the step takes less than twice the smallest step's time (fixed costs are at least half of it). */
  bound: 'dispatch' | 'compute';
}

export interface SweepReport {
  kind: typeof SWEEP_KIND;
  date: string;
  adapter: AdapterSummary;
  runtime: string;
  model: { nLayers: number; nHeads: number; vocab: number; seqLen: number; dFF: string };
  cells: SweepCell[];
  skipped: { dModel: number; batch: number; gflopPerStep: number }[];
  /** Between the largest dispatch-bound step and the smallest compute-bound one (geometric mean), in GFLOP per step; null when one side is empty. */
  turnsAtGflopPerStep: number | null;
  summary: string;
}

export interface SweepOptions {
  widths?: readonly number[];
  batches?: readonly number[];
  /** Wall time each cell's measurement aims at (default 1000 ms; at least 2 steps). */
  targetMs?: number;
  maxGflopPerStep?: number;
  onProgress?(message: string): void;
}

const sweepModel = (d: number): ModelConfig => taskModel(PRESET_TASKS.modarith, { ...PRESET_SIZES.modarith, dModel: d, dFF: 2 * d });

export async function runSweep(rt: GpuRuntime, runtime: string, options: SweepOptions = {}): Promise<SweepReport> {
  const maxGflop = options.maxGflopPerStep ?? (rt.adapter.isSoftware ? SOFTWARE_MAX_GFLOP : Infinity);
  const base = PRESET_SHAPES.modarith;
  const measured: Omit<SweepCell, 'bound'>[] = [];
  const skipped: SweepReport['skipped'] = [];
  for (const d of options.widths ?? SWEEP_WIDTHS) {
    for (const batch of options.batches ?? SWEEP_BATCHES) {
      const config = sweepModel(d);
      const shape = { ...base.shape, batch };
      await rt.scoped(async () => {
        const engine = await TrainingEngine.create(rt, { config, optim: base.optim, shape, seed: 1 });
        const gflop = engine.flopsPerStep / 1e9;
        if (gflop > maxGflop) {
          skipped.push({ dModel: d, batch, gflopPerStep: round(gflop) });
          return;
        }
        options.onProgress?.(`sweep: d_model ${d}, batch ${batch} (${round(gflop)} GFLOP a step)`);
        const batches = [1, 2, 3, 4].map((seed) => syntheticBatch(config, shape, seed));
        await timeSteps(rt, engine, batches, 1, 1); // pipelines warm
        const probe = await timeSteps(rt, engine, batches, 1, 1);
        const steps = Math.max(2, Math.min(4 * MAX_STEPS_PER_SUBMISSION, Math.round((options.targetMs ?? 1000) / Math.max(probe.msPerStep, 1e-3))));
        const { msPerStep } = await timeSteps(rt, engine, batches, Math.min(steps, MAX_STEPS_PER_SUBMISSION), steps);
        measured.push({
          dModel: d, batch, params: engine.table.total, dispatchesPerStep: engine.dispatchesPerStep, gflopPerStep: round(gflop), stepsTimed: steps,
          msPerStep: round(msPerStep), gflops: round(engine.flopsPerStep / 1e6 / msPerStep),
        });
      });
    }
  }
  return { kind: SWEEP_KIND, date: new Date().toISOString(), adapter: rt.adapter, runtime, ...classify(measured), skipped };
}

/** Marks each cell dispatch- or compute-bound against the smallest step's time, and says where the step turns. */
export function classify(measured: readonly Omit<SweepCell, 'bound'>[]): Pick<SweepReport, 'model' | 'cells' | 'turnsAtGflopPerStep' | 'summary'> {
  const m = PRESET_SHAPES.modarith.model;
  const model = { nLayers: m.nLayers, nHeads: m.nHeads, vocab: m.vocabSize, seqLen: PRESET_SHAPES.modarith.shape.seqLen, dFF: '2 d_model' };
  if (measured.length === 0) return { model, cells: [], turnsAtGflopPerStep: null, summary: 'no cell was timed' };
  const floor = Math.min(...measured.map((c) => c.msPerStep));
  const cells: SweepCell[] = measured.map((c) => ({ ...c, bound: c.msPerStep < 2 * floor ? 'dispatch' : 'compute' }));
  const flops = (bound: SweepCell['bound']) => cells.filter((c) => c.bound === bound).map((c) => c.gflopPerStep);
  const dispatch = flops('dispatch');
  const compute = flops('compute');
  const best = cells.reduce((a, c) => (c.gflops > a.gflops ? c : a));
  const peak = `; the best cell reaches ${best.gflops} GFLOP/s (d_model ${best.dModel}, batch ${best.batch})`;
  if (compute.length === 0) {
    return { model, cells, turnsAtGflopPerStep: null, summary: `dispatch-bound at every size timed (up to ${Math.max(...dispatch)} GFLOP a step: within twice the smallest step's ${floor} ms)${peak}` };
  }
  const lastDispatch = Math.max(...dispatch);
  const firstCompute = Math.min(...compute);
  const turn = round(Math.sqrt(lastDispatch * firstCompute));
  return {
    model,
    cells,
    turnsAtGflopPerStep: turn,
    summary:
      `dispatch-bound up to ${lastDispatch} GFLOP a step (within twice the smallest step's ${floor} ms), compute-bound from ` +
      `${firstCompute} GFLOP a step: it turns at about ${turn} GFLOP a step${peak}`,
  };
}
