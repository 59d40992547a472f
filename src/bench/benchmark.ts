// The training-step benchmark, one module for `npm run bench` (Node, Dawn) and the bench page (the visitor's
// browser, in a worker): the same code and the same JSON on every adapter. For each preset:
// - dispatches per step, and steps per submission in the preset's default run (src/train/submissions.ts);
// - ms per step with one step per submission and with the run's steps per submission, timed in alternation, at
//   most two submissions in flight, on synthetic batches (src/bench/step-timing.ts), and the GPU's idle time per
//   step between submissions where the adapter has timestamp queries (else null);
// - model GFLOP per step (matmuls and attention, forward and backward) and the GFLOP/s achieved;
// - with `grok`, the wall time of the preset's default run (seed 1) up to its grok step;
// - with `detail`, each kernel timed on its own, the spectral edge's and the live causal probes' overheads.
import type { GpuRuntime } from '../gpu/runtime';
import { TrainingEngine } from '../model/engine';
import { PRESETS, PRESET_SHAPES } from '../train/presets';
import { PRESET_NAMES, type PresetName } from '../formats/task';
import { syntheticBatch } from '../tasks/synthetic';
import { resolveRunConfig } from '../train/run';
import { submissionPlan } from '../train/submissions';
import { createTrainer } from '../analysis/live-causal';
import { compareStepsPerSubmission, timeSteps } from './step-timing';
import { benchKernels, benchLiveCausal, benchSpectral } from './detail';
import { round } from './round';
import { BENCH_KIND, type BenchReport, type GrokTiming, type PresetBench } from '../formats/bench';

/** The presets `--presets all` times: every preset. */
export const BENCH_PRESETS: readonly PresetName[] = PRESET_NAMES;

/** Too slow for a software adapter: one SCAN step takes minutes on SwiftShader (166 s measured). */
const SOFTWARE_SKIPS: readonly PresetName[] = ['scan'];

/** The presets a plain `npm run bench` times: every preset, less those a software adapter would take hours over. */
export function defaultBenchPresets(isSoftware: boolean): { presets: PresetName[]; skipped: PresetName[] } {
  const skipped = isSoftware ? BENCH_PRESETS.filter((p) => SOFTWARE_SKIPS.includes(p)) : [];
  return { presets: BENCH_PRESETS.filter((p) => !skipped.includes(p)), skipped };
}

export interface BenchOptions {
  presets: readonly PresetName[];
  /** Steps per timed measurement (default: as many as take about targetMs, at least 2). */
  steps?: number;
  /** Wall time one measurement aims at when `steps` is not given (default 2000 ms). */
  targetMs?: number;
  /** Also time the default run (seed 1) up to its grok. */
  grok?: boolean;
  /** Also time each kernel on its own and the spectral edge's and live causal probes' overheads. */
  detail?: boolean;
  /** What the benchmark is doing now (for a progress line). */
  onProgress?(message: string): void;
  /** Checked between measurements: true ends the benchmark with a BenchCancelledError. */
  shouldStop?(): boolean;
}

export class BenchCancelledError extends Error {
  override name = 'BenchCancelledError';
}

export async function runBenchmark(rt: GpuRuntime, runtime: string, options: BenchOptions): Promise<BenchReport> {
  const results: PresetBench[] = [];
  for (const name of options.presets) {
    if (!(PRESET_NAMES as readonly string[]).includes(name)) throw new Error(`unknown preset ${name}; choose from ${PRESET_NAMES.join(', ')}`);
    results.push(await benchPreset(rt, name, options));
  }
  return { kind: BENCH_KIND, date: new Date().toISOString(), adapter: rt.adapter, runtime, results };
}

async function benchPreset(rt: GpuRuntime, name: PresetName, options: BenchOptions): Promise<PresetBench> {
  const checkpoint = (what: string) => {
    if (options.shouldStop?.()) throw new BenchCancelledError('benchmark cancelled');
    options.onProgress?.(`${name}: ${what}`);
  };
  checkpoint('building the model');
  const preset = PRESET_SHAPES[name];
  const run = resolveRunConfig(name, 1, {});
  const plan = submissionPlan(run);
  return rt.scoped(async () => {
    const engine = await TrainingEngine.create(rt, { config: preset.model, optim: preset.optim, shape: preset.shape, seed: 1 });
    // As in the preset's runs: one batch for every step (full batch), or a new one each step (a few, in turn).
    const batches = Array.from({ length: PRESETS[name].batchMode === 'full' ? 1 : 4 }, (_, i) => syntheticBatch(preset.model, preset.shape, 1 + i));
    checkpoint('timing one step');
    await timeSteps(rt, engine, batches, 1, 1); // pipelines warm
    const probe = await timeSteps(rt, engine, batches, 1, 1);
    const steps = options.steps ?? Math.max(2, Math.min(2 * plan.largest, Math.round((options.targetMs ?? 2000) / Math.max(probe.msPerStep, 1e-3))));
    const k = Math.min(plan.largest, steps);
    checkpoint(`timing ${steps} steps, 1 and ${k} per submission`);
    // A step slower than the whole measurement should take (a CPU adapter, a big preset) is timed once, not 3 + 1 times.
    const repeats = probe.msPerStep > (options.targetMs ?? 2000) ? 1 : 3;
    const { single, multi } = await compareStepsPerSubmission(rt, engine, batches, { k, steps, repeats });
    const stepFlops = engine.flopsPerStep;
    const result: PresetBench = {
      preset: name,
      params: engine.table.total,
      batch: preset.shape.batch,
      seqLen: preset.shape.seqLen,
      dispatchesPerStep: engine.dispatchesPerStep,
      stepsPerSubmission: round(plan.steps / plan.submissions),
      largestSubmission: plan.largest,
      stepsPerSubmissionTimed: k,
      stepsTimed: steps,
      msPerStep: round(multi.msPerStep),
      msPerStepK1: round(single.msPerStep),
      stepsPerSecond: round(1000 / multi.msPerStep),
      gpuIdleMsPerStep: multi.gpuIdleMsPerStep === null ? null : round(multi.gpuIdleMsPerStep),
      gpuIdleMsPerStepK1: single.gpuIdleMsPerStep === null ? null : round(single.gpuIdleMsPerStep),
      readbacksPerStep: Math.max(single.readbacksPerStep, multi.readbacksPerStep),
      gflopPerStep: round(stepFlops / 1e9),
      stepGflops: round(stepFlops / 1e6 / multi.msPerStep),
    };
    if (options.detail) {
      checkpoint('timing each kernel');
      Object.assign(result, await benchKernels(rt, engine, multi.msPerStep));
      checkpoint('timing the spectral edge');
      Object.assign(result, await benchSpectral(rt, name, engine, multi.msPerStep));
      checkpoint('timing the live causal probes');
      Object.assign(result, await benchLiveCausal(rt, name, multi.msPerStep));
    }
    if (options.grok) result.grok = await timeToGrok(rt, name, 1, options);
    return result;
  });
}

/** The preset's default run with `seed`, timed from its first step to its grok (or its end when it does not grok). */
export async function timeToGrok(rt: GpuRuntime, name: PresetName, seed: number, options: Pick<BenchOptions, 'onProgress' | 'shouldStop'> = {}): Promise<GrokTiming> {
  const config = resolveRunConfig(name, seed, {});
  const trainer = await createTrainer(rt, config);
  try {
    let grokked = false;
    const start = performance.now();
    await trainer.run({
      shouldStop: () => grokked || !!options.shouldStop?.(),
      onEvent: (event) => {
        if (event.type === 'grok' && event.head === undefined) grokked = true;
      },
      onEvaluation: ({ point }) => options.onProgress?.(`${name}: to the grok, step ${point.step} of ${config.steps}`),
    });
    const seconds = (performance.now() - start) / 1000;
    if (!grokked && trainer.step < config.steps) throw new BenchCancelledError('benchmark cancelled');
    return { seed, grokStep: trainer.grokStep, steps: trainer.step, seconds: round(seconds) };
  } finally {
    trainer.destroy();
  }
}
