import { acquireNodeDevice } from './src/gpu/node-gpu';
import { GpuRuntime } from './src/gpu/runtime';
import { TrainingEngine } from './src/model/engine';
import { syntheticBatch } from './src/tasks/synthetic';
const optim = { lr: 1e-2, weightDecay: 0.5, beta1: 0.9, beta2: 0.98, eps: 1e-8, clipNorm: 1 };
const acquired = await acquireNodeDevice();
const rt = new GpuRuntime({ ...acquired, adapter: { ...acquired.adapter, isSoftware: false } });
const c = { config: { nLayers: 1, dModel: 96, nHeads: 2, dFF: 130, vocabSize: 11, maxPositions: 4, nClasses: 7, causal: false, posInitStd: 0.3 }, shape: { batch: 9, seqLen: 3, readout: { start: 1, count: 1 } } };
const [fused, unfused] = await Promise.all([true, false].map((f) => TrainingEngine.create(rt, { config: c.config as any, shape: c.shape, optim, seed: 3, fused: f })));
console.log(unfused.dispatches.map((d) => d.label).filter((l) => l.includes('skinny')).join('\n'));
let same = true;
for (let step = 0; step < 2; step++) {
  const data = syntheticBatch(c.config as any, c.shape, 10 + step);
  const stats = await Promise.all([fused, unfused].map((e) => e.step(data, { readback: true })));
  console.log(JSON.stringify(stats));
  const [g1, g2] = [await fused.readGrads(), await unfused.readGrads()];
  same &&= g1.every((v, i) => Object.is(v, g2[i]));
}
console.log(same ? 'SAME' : 'DIFFERENT');
process.exit(0);
