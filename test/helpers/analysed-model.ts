// A tiny model with a real spectral edge, as the experiments' float64 tests need it: an engine trained `steps`
// steps on synthetic batches with a SpectralMonitor (window 5 every 4 steps, k 3), and its analysis context on
// `testCount` synthetic test sequences.
import { testRuntime } from './gpu';
import type { TinyCase } from './tiny-models';
import { buildParamTable } from '../../src/model/params';
import { SpectralMonitor } from '../../src/spectral/monitor';
import { spectralDefaults } from '../../src/spectral/options';
import { syntheticBatch } from '../../src/tasks/synthetic';
import { TrainingEngine } from '../../src/model/engine';
import type { OptimConfig } from '../../src/formats/optim';
import type { AnalysisContext } from '../../src/analysis/context';

export const ANALYSED_OPTIM: OptimConfig = { lr: 3e-2, weightDecay: 0.5, beta1: 0.9, beta2: 0.98, eps: 1e-8, clipNorm: 1 };

export async function analysedModel(c: TinyCase, testCount: number, steps = 20): Promise<AnalysisContext> {
  const rt = await testRuntime();
  const optim = ANALYSED_OPTIM;
  const engine = await TrainingEngine.create(rt, { config: c.config, shape: c.shape, optim, seed: 3, splitSlice: buildParamTable(c.config).attn });
  const monitor = await SpectralMonitor.create(rt, engine, { ...spectralDefaults(5, 4), k: 3 });
  for (let step = 1; step <= steps; step++) {
    engine.step(syntheticBatch(c.config, c.shape, 100 + (step % 6)), { after: monitor.afterStep(step) });
    if (monitor.windowReady(step)) await monitor.analyse(step, optim);
  }
  return { engine, edges: monitor.edgeVectors, test: syntheticBatch(c.config, { ...c.shape, batch: testCount }, 500), seed: 11 };
}
