// The whole GPU model (encoder-only and encoder-decoder, and with RMSNorm and QK-norm) against the float64
// reference on small ragged configurations: logits, loss, every parameter gradient and one clipped AdamW step.
//
// Tolerances (float32 kernels vs float64): logits and loss atol 1e-4 + rtol 1e-4; gradients atol 1e-5 plus
// 1e-3 of the group's largest |gradient| (f32 accumulation over a few hundred terms, through LayerNorm and
// softmax backward); the clipped AdamW step, applied to the GPU's gradients by both, atol 1e-6 + rtol 1e-5.
// With the architecture options (TINY_ARCHITECTURE_CASES) the same tolerances hold with room on SwiftShader: logits
// and loss within 3.5e-7, gradients within 0.0013 of their tolerance (worst: the cross-attention q_norm gain).
import { describe, expect, it } from 'vitest';
import { guaranteedBindingsRuntime, testRuntime, withHardwareVariants } from './helpers/gpu';
import { expectClose } from './helpers/close';
import { TINY_ARCHITECTURE_CASES, TINY_CASES, TINY_ENCODER_DECODER_CASES } from './helpers/tiny-models';
import { syntheticBatch } from '../src/tasks/synthetic';
import { TrainingEngine } from '../src/model/engine';
import type { Fusion } from '../src/model/transformer';
import { hasQkNorm, modelStacks } from '../src/model/config';
import { referenceLossAndGrad } from '../src/reference/model';
import { clipAndAdamW } from '../src/reference/adamw';
import { paramView } from '../src/model/params';
import type { OptimConfig } from '../src/formats/optim';
import type { AnyModelConfig, BatchShape } from '../src/formats/model-config';

const optim: OptimConfig = { lr: 1e-2, weightDecay: 0.5, beta1: 0.9, beta2: 0.98, eps: 1e-8, clipNorm: 1 };

/** Two steps of different batches on both engines: the same loss, gradient norm and gradients, then parameters, bit for bit. */
async function expectSameTraining(a: TrainingEngine, b: TrainingEngine, c: { config: AnyModelConfig; shape: BatchShape }): Promise<void> {
  for (let step = 0; step < 2; step++) {
    const data = syntheticBatch(c.config, c.shape, 10 + step);
    const stats = await Promise.all([a, b].map((e) => e.step(data, { readback: true })));
    expect(stats[0]).toEqual(stats[1]);
    expect(await a.readGrads()).toEqual(await b.readGrads());
  }
  expect(await a.readParams()).toEqual(await b.readParams());
}

/** A product with a small side and a long K, which a GPU's skinny kernel splits over K (src/model/ops/matmul.ts). */
const SPLIT_K_CASE = {
  name: 'a head of 7 classes on d_model 96, 70 rows read out (split-K on a GPU, unfused)',
  config: { nLayers: 1, dModel: 96, nHeads: 2, dFF: 130, vocabSize: 11, maxPositions: 4, nClasses: 7, causal: false, posInitStd: 0.3 },
  shape: { batch: 70, seqLen: 2, readout: { start: 1, count: 1 } },
};

// Also the graph a GPU builds (withHardwareVariants), on the encoder-decoder with a readout window.
const REFERENCE_CASES = [
  ...[...TINY_CASES, ...TINY_ENCODER_DECODER_CASES, ...TINY_ARCHITECTURE_CASES].map((c) => ({ ...c, variants: 'this adapter\'s' })),
  { ...TINY_ENCODER_DECODER_CASES[1], variants: 'hardware' },
];
describe.each(REFERENCE_CASES)('GPU transformer ($variants kernels) vs float64 reference ($name)', (c) => {
  it('agrees on logits, loss, every gradient and one AdamW step', async () => {
    const rt = c.variants === 'hardware' ? withHardwareVariants(await testRuntime()) : await testRuntime();
    const engine = await TrainingEngine.create(rt, { config: c.config, shape: c.shape, optim, seed: 9 });
    const data = syntheticBatch(c.config, c.shape, 4);
    const initial = await engine.readParams();
    const ref = referenceLossAndGrad(c.config, engine.table, Float64Array.from(initial), c.shape, data);

    const stats = await engine.step(data, { readback: true });
    const logits = await rt.readF32(engine.graph.logits, 0, ref.logits.length);
    expectClose(logits, ref.logits, { atol: 1e-4, rtol: 1e-4 }, 'logits');
    expectClose([stats.loss], [ref.loss], { atol: 1e-4, rtol: 1e-4 }, 'loss');

    const grads = await engine.readGrads();
    for (const s of engine.table.slices) {
      const expected = paramView(engine.table, ref.grad, s.name);
      const scale = Math.max(...Array.from(expected, Math.abs));
      expectClose(paramView(engine.table, grads, s.name), expected, { atol: 1e-5 + 1e-3 * scale, rtol: 0 }, `grad ${s.name}`);
    }

    // The optimiser step is checked on the GPU's own gradients: Adam's first step moves a parameter by about
    // lr * g / (|g| + eps), so where |g| is near eps the f32/f64 gradient difference alone would flip it.
    const params = Float64Array.from(initial);
    const m = new Float64Array(params.length);
    const v = new Float64Array(params.length);
    const { gradNorm } = clipAndAdamW(params, Float64Array.from(grads), m, v, 1, optim);
    expectClose([stats.gradNorm], [gradNorm], { atol: 1e-6, rtol: 1e-5 }, 'grad norm');
    expectClose(await engine.readParams(), params, { atol: 1e-6, rtol: 1e-5 }, 'params after one step');
  });
});

// The fused graph against the unfused one (fused: false), which is kept for this comparison: the same losses, gradient
// norms, gradients and parameters, bit for bit, over two steps of different batches. Every fusion ('all': this
// adapter's default graph, true, leaves out what runs inside products on GPUs, where it costs more here than it
// saves), and the default graph on the first model. With every fusion the only norm backward dispatches left are the
// QK-norms', the cross-attention norms' and the encoder's final norm's (the others run inside products).
const FUSED_CASES = [...TINY_CASES, ...TINY_ENCODER_DECODER_CASES, ...TINY_ARCHITECTURE_CASES].map((c) => ({ ...c, fusion: 'all' as Fusion }));
describe.each([...FUSED_CASES, { ...TINY_CASES[0], fusion: true }])('fused ($fusion) vs unfused graph ($name)', (c) => {
  it('trains bit for bit alike, with fewer dispatches', async () => {
    const rt = await testRuntime();
    const [fused, unfused] = await Promise.all([c.fusion, false].map((f) => TrainingEngine.create(rt, { config: c.config, shape: c.shape, optim, seed: 3, fused: f })));
    expect(fused.dispatchesPerStep).toBeLessThan(unfused.dispatchesPerStep);
    if (c.fusion === 'all') {
      const stacks = modelStacks(c.config);
      const decoderLayers = stacks.filter((s) => s.cross).reduce((n, s) => n + s.nLayers, 0);
      const layers = stacks.reduce((n, s) => n + s.nLayers, 0);
      const qkNorms = hasQkNorm(c.config) ? layers + 2 * decoderLayers : 0;
      expect(fused.dispatches.filter((d) => d.label.startsWith('layernorm.backward')).length).toBe(stacks.length - 1 + decoderLayers + qkNorms);
    }
    await expectSameTraining(fused, unfused, c);
  });
});

// On a device that binds only the 8 storage buffers per shader stage WebGPU guarantees, the fused kernels that bind
// more (9) do not fit: the graph falls back to fewer fusions (src/model/transformer.ts, fusionLevels) and still trains
// bit for bit as the unfused graph does on a larger device. Measured on SwiftShader (12 bindings), with every fusion
// asked for: the causal model (sequences of 7) and the encoder-decoder keep every fusion (an attention's probs and
// its backward's scratch share a buffer, so the attention's keys with a norm's gain sums bind 8; products split where
// they must); with QK-norm the keys write dK and dV to two gradient buffers, bind 9, and the attention leaves the
// products.
const EVERY_FUSION = { fused: true, intoProducts: true, attentionInProducts: true };
const GUARANTEED_BINDING_CASES = [
  { ...TINY_CASES[1], fusion: EVERY_FUSION },
  { ...TINY_ENCODER_DECODER_CASES[0], fusion: EVERY_FUSION },
  { ...TINY_ARCHITECTURE_CASES[2], fusion: { fused: true, intoProducts: true, attentionInProducts: false } },
];
describe.each(GUARANTEED_BINDING_CASES)('with 8 storage buffers a stage ($name)', (c) => {
  it('builds the most fused graph that fits, and it trains bit for bit as the unfused one', async () => {
    const [small, rt] = await Promise.all([guaranteedBindingsRuntime(), testRuntime()]);
    expect(small.limits.maxStorageBuffersPerShaderStage).toBe(8);
    const [fitted, roomy, unfused] = await Promise.all([
      TrainingEngine.create(small, { config: c.config, shape: c.shape, optim, seed: 3, fused: 'all' }),
      TrainingEngine.create(rt, { config: c.config, shape: c.shape, optim, seed: 3, fused: 'all' }),
      TrainingEngine.create(rt, { config: c.config, shape: c.shape, optim, seed: 3, fused: false }),
    ]);
    expect(fitted.dispatchesPerStep).toBeLessThan(unfused.dispatchesPerStep);
    expect(roomy.graph.fusion).toEqual(EVERY_FUSION);
    expect(fitted.graph.fusion).toEqual(c.fusion);
    console.log(`${c.name}: ${fitted.dispatchesPerStep} dispatches with 8 bindings, ${roomy.dispatchesPerStep} with ${rt.limits.maxStorageBuffersPerShaderStage}, ${unfused.dispatchesPerStep} unfused`);
    await expectSameTraining(fitted, unfused, c);
  });
});

// The graph a GPU builds, run here: the kernel variants of a hardware adapter (workgroup-memory trees in the norms
// and gain sums, staged and split-K matmuls) with every fusion its bindings allow, against the unfused graph of the same
// variants, bit for bit over two steps. On SwiftShader the tests above run the software variants, whose norms sum each
// row and column in one lane; here the lanes and their trees must agree between the fused kernels and the norm kernel
// (the final norm's gain sums under a readout window differed, before its lanes took x's rows). Cases: products with
// a small side and a long K (which the unfused graph summed over split K, the fused one in order) and a readout
// window, long sequences (the attention's backward rows inside a product), the encoder-decoder with a window, RMSNorm
// with QK-norm, and long sequences with QK-norm on a device with 8 bindings (the attention out of the products). The
// two engines are built at once on one runtime: a graph's failed attempt at a fusion level must free its own buffers
// only (it freed the other engine's, which then trained on destroyed buffers to a loss of 0).
const HARDWARE_CASES = [
  { ...SPLIT_K_CASE, bindings: 12 },
  { ...TINY_CASES[1], bindings: 12 },
  { ...TINY_ENCODER_DECODER_CASES[1], bindings: 12 },
  { ...TINY_ARCHITECTURE_CASES[3], bindings: 12 },
  { ...TINY_ARCHITECTURE_CASES[2], bindings: 8 },
];
describe.each(HARDWARE_CASES)('the GPU graph ($name, $bindings bindings)', (c) => {
  it('trains bit for bit as its unfused graph', async () => {
    const rt = withHardwareVariants(await (c.bindings === 8 ? guaranteedBindingsRuntime() : testRuntime()));
    const [fused, unfused] = await Promise.all([true, false].map((f) => TrainingEngine.create(rt, { config: c.config, shape: c.shape, optim, seed: 3, fused: f })));
    // With QK-norm, the attention's keys bind 9 (GUARANTEED_BINDING_CASES).
    expect(fused.graph.fusion).toEqual({ fused: true, intoProducts: true, attentionInProducts: c.bindings > 8 });
    await expectSameTraining(fused, unfused, c);
  });
});
