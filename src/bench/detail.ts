// The benchmark's optional detail (`--detail`; the page's "details" box): every dispatch of the step timed on its
// own, so step throughput can be compared with what the matmul kernels reach on the same shapes; the spectral
// edge's cost at the preset's default cadence; and the live causal probes' cost at theirs.
import type { GpuRuntime } from '../gpu/runtime';
import { median, timeDispatches } from '../gpu/timing';
import { TrainingEngine } from '../model/engine';
import { PRESETS } from '../train/presets';
import type { PresetName } from '../formats/task';
import { buildParamTable } from '../model/params';
import { SpectralMonitor } from '../spectral/monitor';
import { spectralDefaults } from '../spectral/options';
import { resolveRunConfig } from '../train/run';
import { createTrainer, liveCausalProbe } from '../analysis/live-causal';
import { round, roundAll } from './round';

/** Every dispatch of the step timed on its own: time by kernel family, and each matmul's own GFLOP/s. */
export async function benchKernels(rt: GpuRuntime, engine: TrainingEngine, stepMs: number) {
  const byKernel: Record<string, number> = {};
  let matmulFlops = 0;
  let matmulMs = 0;
  const matmulShapes: { label: string; gflop: number; ms: number; gflops: number }[] = [];
  for (const d of engine.dispatches) {
    const ms = await timeDispatches(rt, [d], { targetMs: 200, repeats: 3 });
    const family = d.label.split(/[.\[ ]/)[0];
    byKernel[family] = (byKernel[family] ?? 0) + ms;
    if (family === 'matmul') {
      const flops = d.flops ?? 0;
      matmulFlops += flops;
      matmulMs += ms;
      matmulShapes.push({ label: d.label, gflop: flops / 1e9, ms, gflops: flops / 1e6 / ms });
    }
  }
  const stepGflops = engine.flopsPerStep / 1e6 / stepMs;
  const matmulGflops = matmulFlops / 1e6 / matmulMs;
  return {
    msByKernelFamily: roundAll(byKernel),
    matmul: { gflops: round(matmulGflops), msPerStep: round(matmulMs), dispatches: matmulShapes.map(roundAll) },
    stepToMatmulThroughput: round(stepGflops / matmulGflops),
  };
}

/**
 * What the live causal probes add per step at the preset's default cadence: one probe timed end to end (its
 * ablations, perturbation curves and curvature, with their readbacks and CPU work; the median of 3) divided by the
 * steps between probes, as a fraction of the plain step. The probe runs on the edge of a real window of the preset's
 * run (W snapshots one step apart, so the window fills in W steps); its cost does not depend on the edge.
 */
export async function benchLiveCausal(rt: GpuRuntime, name: PresetName, plainMs: number) {
  const defaults = resolveRunConfig(name, 1, { causal: { enabled: true } });
  const options = defaults.causal!;
  const W = defaults.spectral.window;
  const trainer = await createTrainer(rt, resolveRunConfig(name, 1, { steps: W, evalEvery: W, spectral: { snapshotEvery: 1 }, causal: { ...options, every: W } }));
  try {
    await trainer.run();
    const probe = liveCausalProbe(trainer, options);
    const times: number[] = [];
    for (let i = 0; i < 3; i++) {
      const t0 = performance.now();
      await probe(W);
      times.push(performance.now() - t0);
    }
    const probeMs = median(times);
    return {
      /** Extra time per step with the live causal probes on at the default cadence, as a fraction of the plain step. */
      liveCausalOverhead: round(probeMs / options.every / plainMs),
      liveCausal: { every: options.every, sequences: options.sequences, randomPairs: options.randomPairs, msPerProbe: round(probeMs) },
    };
  } finally {
    trainer.destroy();
  }
}

/**
 * What tracking the spectral edge at the preset's default cadence adds per step: the optimiser's split
 * accumulation (every step), the snapshot dispatch and the window analysis (both once per snapshotEvery steps,
 * the analysis timed end to end with its readbacks and CPU work), as a fraction of the plain step. The split's
 * cost is the optimiser dispatch with it minus without it, the two timed in alternation (whole steps vary far more
 * from run to run on a loaded machine than the split costs).
 */
export async function benchSpectral(rt: GpuRuntime, name: PresetName, plain: TrainingEngine, plainMs: number) {
  const preset = PRESETS[name];
  const options = spectralDefaults(preset.spectral.window, preset.spectral.snapshotEvery);
  const table = buildParamTable(preset.model);
  const engine = await TrainingEngine.create(rt, { config: preset.model, optim: preset.optim, shape: preset.shape, seed: 1, splitSlice: table.attn });
  const monitor = await SpectralMonitor.create(rt, engine, options);
  const [plainOptimiser, splitOptimiser]: number[][] = [[], []];
  for (let round = 0; round < 5; round++) {
    plainOptimiser.push(await timeDispatches(rt, plain.dispatches.slice(-1), { targetMs: 100, repeats: 3 }));
    splitOptimiser.push(await timeDispatches(rt, engine.dispatches.slice(-1), { targetMs: 100, repeats: 3 }));
  }
  const splitMs = median(splitOptimiser) - median(plainOptimiser);
  const snapshotMs = await timeDispatches(rt, monitor.afterStep(options.snapshotEvery), { targetMs: 200, repeats: 3 });
  const analyses: number[] = [];
  for (let i = 0; i < 3; i++) {
    const t0 = performance.now();
    await monitor.analyse(options.snapshotEvery, preset.optim);
    analyses.push(performance.now() - t0);
  }
  const analyseMs = median(analyses);
  const extraPerStep = splitMs + (snapshotMs + analyseMs) / options.snapshotEvery;
  return {
    /** Extra time per step with the edge on, as a fraction of the plain step. */
    spectralOverhead: round(extraPerStep / plainMs),
    spectral: {
      window: options.window,
      snapshotEvery: options.snapshotEvery,
      trackedParams: table.attn.size,
      msPerStepOff: round(plainMs),
      msPerStepOn: round(plainMs + extraPerStep),
      splitMs: round(splitMs),
      snapshotMs: round(snapshotMs),
      analyseMs: round(analyseMs),
    },
  };
}
