// SCAN on the encoder-decoder model: the paper preset's architecture and parameter table, the teacher-forcing
// batch layout, the preset's run configuration, and a tiny model trained on a few SCAN pairs through the
// TrainingEngine, evaluated teacher-forced and by greedy decoding, with the GPU's greedy decoding checked
// token for token against the float64 reference's; and a tiny model run through the Trainer on the paper subset.
import { describe, expect, it } from 'vitest';
import { testRuntime } from './helpers/gpu';
import { buildParamTable } from '../src/model/params';
import { IGNORE_TARGET } from '../src/model/batch';
import type { EncoderDecoderConfig } from '../src/formats/model-config';
import { PRESETS, PRESET_SHAPES, buildTaskData, grokMetric } from '../src/train/presets';
import { Trainer } from '../src/train/trainer';
import { METRIC_KEYS } from '../src/formats/metrics';
import { parseRunFile, resolveRunConfig } from '../src/train/run';
import { RUN_FILE, RUN_FILE_KIND, RUN_FILE_VERSION, type RunFile } from '../src/formats/run-file';
import { SCAN_ACTION_VOCAB, SCAN_COMMAND_VOCAB, SCAN_DECODER_LEN, SCAN_MAX_ACTIONS, SCAN_SOURCE_LEN, SCAN_SPECIAL, scanBatch, scanCommands, type ScanPair } from '../src/tasks/scan';
import { TrainingEngine } from '../src/model/engine';
import { Evaluator } from '../src/train/evaluator';
import { referenceForward } from '../src/reference/model';
import { greedyDecode, NOT_DECODED, scoreSequences } from '../src/train/predictions';

describe('the SCAN paper model', () => {
  it('has the architecture of docs/science.md §1: 3,978,761 parameters (~3.98M) and a 2,359,296-float theta_attn', () => {
    // Counted from the description: pre-LN blocks, attention with Q/K/V/O weights and biases, GELU MLP,
    // untied learned token and positional embeddings per side, encoder and decoder final LayerNorms, a
    // linear head over the 9 target ids. Vocabularies: PAD, SOS, EOS + 13 words / 6 actions; positions:
    // the 11-token encoded command and the 49 teacher-forced decoder inputs (SOS + up to 48 actions).
    const d = 256, dFF = 512, layers = 3, sourceVocab = 16, targetVocab = 9;
    const attention = 4 * d * d + 4 * d;
    const layerNorm = 2 * d;
    const mlp = d * dFF + dFF + dFF * d + d;
    const encoderLayer = layerNorm + attention + layerNorm + mlp;
    const decoderLayer = layerNorm + attention + layerNorm + attention + layerNorm + mlp;
    const embeddings = (sourceVocab + 11) * d + (targetVocab + 49) * d;
    const head = targetVocab * d + targetVocab;
    const expected = layers * (encoderLayer + decoderLayer) + embeddings + 2 * layerNorm + head;

    const table = buildParamTable(PRESET_SHAPES.scan.model);
    expect(table.total).toBe(expected);
    expect(table.total).toBe(3_978_761);
    expect(Math.abs(table.total - 3.98e6) / 3.98e6).toBeLessThan(0.001);
    // docs/science.md §2: theta_attn for SCAN is 9 attention modules x 4 weights of d x d.
    expect(table.attn).toEqual({ offset: 0, size: 2_359_296 });
    expect(PRESET_SHAPES.scan.model.encoder.vocabSize).toBe(sourceVocab);
    expect(PRESET_SHAPES.scan.model.decoder.vocabSize).toBe(targetVocab);
  });

  it('has a CPU-sized sibling, quick-scan: the same task and architecture at 1+1 layers, d 32 (24,521 parameters)', () => {
    const { model, shape, optim } = PRESET_SHAPES['quick-scan'];
    expect(model).toMatchObject({ dModel: 32, dFF: 64, nHeads: 4, encoder: { nLayers: 1 }, decoder: { nLayers: 1 } });
    expect(buildParamTable(model).total).toBe(24_521);
    expect(buildParamTable(model).attn.size).toBe(3 * 4 * 32 * 32);
    expect({ batch: shape.batch, lr: optim.lr, weightDecay: optim.weightDecay }).toEqual({ batch: 16, lr: 1e-2, weightDecay: 1 });
    expect(PRESETS['quick-scan'].task).toEqual(PRESETS.scan.task);
    expect(grokMetric(PRESETS['quick-scan'].task)).toBe('testSeqAcc');
  });

  it('lays theta_attn out in the documented order: encoder self, then per decoder layer self and cross', () => {
    const table = buildParamTable(PRESET_SHAPES.scan.model);
    const modules = [0, 1, 2].map((l) => `encoder.layers.${l}.attn`);
    for (const l of [0, 1, 2]) modules.push(`decoder.layers.${l}.attn`, `decoder.layers.${l}.cross`);
    const names = modules.flatMap((m) => ['wq', 'wk', 'wv', 'wo'].map((w) => `${m}.${w}`));
    const inAttn = table.slices.filter((s) => s.offset < table.attn.size);
    expect(inAttn.map((s) => s.name)).toEqual(names);
    expect(inAttn.every((s) => s.shape.join() === '256,256')).toBe(true);
    // Cross-attention's fused in_proj is xavier-uniform like self-attention's; every bias is in the rest.
    expect(table.get('decoder.layers.1.cross.wk').init).toEqual(table.get('encoder.layers.0.attn.wq').init);
    expect(table.get('decoder.layers.1.cross.bqkv').offset).toBeGreaterThanOrEqual(table.attn.size);
  });

  it('is a valid run configuration that round-trips through the run file schema', () => {
    const config = resolveRunConfig('scan', 3, {});
    expect(config.shape).toEqual({ batch: 256, seqLen: SCAN_DECODER_LEN, sourceLen: SCAN_SOURCE_LEN, readout: { start: 0, count: SCAN_DECODER_LEN } });
    const run: RunFile = {
      version: RUN_FILE_VERSION,
      kind: RUN_FILE_KIND,
      config,
      series: Object.fromEntries(METRIC_KEYS.map((k) => [k, []])) as unknown as RunFile['series'],
      events: [],
      summary: { steps: 0, grokStep: null, stopReason: 'interrupted', final: null, wallMs: 0, adapter: 'test' },
    };
    expect(parseRunFile(JSON.stringify(run))).toEqual(run);
    const broken = { ...run, config: { ...config, model: { ...config.model, decoder: undefined } } };
    expect(() => parseRunFile(JSON.parse(JSON.stringify(broken)))).toThrow(/config\.model/);
  });

  it('trains on the paper subset: 2,048 pairs, 500 test pairs', () => {
    const data = buildTaskData(PRESETS.scan.task, 5);
    expect(data.trainCount).toBe(2048);
    expect(data.train.source?.length).toBe(2048 * SCAN_SOURCE_LEN);
    expect(data.test.tokens.length).toBe(500 * SCAN_DECODER_LEN);
    expect(data.trainBatch([3, 3]).targets.length).toBe(2 * SCAN_DECODER_LEN);
  });
});

describe('scanBatch (teacher forcing)', () => {
  const id = (vocab: readonly string[], w: string) => vocab.indexOf(w);

  it('feeds SOS + target[:-1] to the decoder and scores the target after SOS, PAD ignored', () => {
    const pair: ScanPair = { command: ['jump', 'twice'], actions: ['I_JUMP', 'I_JUMP'] };
    const b = scanBatch([pair], [0]);
    const { sos, eos, pad } = SCAN_SPECIAL;
    const jump = id(SCAN_ACTION_VOCAB, 'I_JUMP');
    expect(Array.from(b.source!.subarray(0, 5))).toEqual([sos, id(SCAN_COMMAND_VOCAB, 'jump'), id(SCAN_COMMAND_VOCAB, 'twice'), eos, pad]);
    expect(b.tokens.length).toBe(SCAN_DECODER_LEN);
    expect(Array.from(b.tokens.subarray(0, 5))).toEqual([sos, jump, jump, eos, pad]);
    expect(Array.from(b.targets.subarray(0, 4))).toEqual([jump, jump, eos, IGNORE_TARGET]);
    expect(b.targets.subarray(3).every((t) => t === IGNORE_TARGET)).toBe(true);
  });

  it('fits the longest action sequence: 48 actions + EOS scored, no EOS among the inputs', () => {
    const longest = scanCommands().find((p) => p.actions.length === SCAN_MAX_ACTIONS)!;
    const b = scanBatch([longest], [0]);
    expect(b.targets.every((t) => t !== IGNORE_TARGET)).toBe(true);
    expect(b.targets[SCAN_DECODER_LEN - 1]).toBe(SCAN_SPECIAL.eos);
    expect(Array.from(b.tokens).includes(SCAN_SPECIAL.eos)).toBe(false);
  });
});

// A tiny model with the SCAN vocabularies and lengths, trained full-batch on short pairs.
const tiny: EncoderDecoderConfig = {
  ...PRESET_SHAPES.scan.model,
  dModel: 16,
  nHeads: 2,
  dFF: 24,
  encoder: { ...PRESET_SHAPES.scan.model.encoder, nLayers: 1 },
  decoder: { ...PRESET_SHAPES.scan.model.decoder, nLayers: 1 },
};
const optim = { lr: 1e-2, weightDecay: 0, beta1: 0.9, beta2: 0.98, eps: 1e-8, clipNorm: 1 };

describe('a tiny SCAN model on the GPU', () => {
  it('learns a few pairs; greedy decoding matches the float64 reference and agrees with teacher forcing', async () => {
    const rt = await testRuntime();
    const short = scanCommands().filter((p) => p.command.length <= 3 && p.actions.length <= 4);
    const train = short.filter((_, i) => i % 3 !== 2);
    const held = short.filter((_, i) => i % 3 === 2);
    const trainData = scanBatch(train, train.map((_, i) => i));
    const shape = { ...PRESETS.scan.shape, batch: train.length };
    const engine = await TrainingEngine.create(rt, { config: tiny, shape, optim, seed: 2 });
    const losses: number[] = [];
    for (let s = 0; s < 100; s++) {
      if (s % 50 === 0 || s === 99) losses.push((await engine.step(trainData, { readback: true })).loss);
      else engine.step(trainData);
    }
    expect(losses[0]).toBeGreaterThan(0.5 * Math.log(SCAN_ACTION_VOCAB.length));
    expect(losses.at(-1)!).toBeLessThan(0.2 * losses[0]);

    // Evaluation in ragged chunks (7 sequences each) over train and held-out pairs.
    const all = [...train, ...held];
    const data = scanBatch(all, all.map((_, i) => i));
    const evaluator = await Evaluator.create(rt, tiny, engine.state, { seqLen: SCAN_DECODER_LEN, sourceLen: SCAN_SOURCE_LEN, readout: shape.readout }, 7);
    const forced = await evaluator.evaluate(data);
    const greedy = await evaluator.greedy(data, SCAN_SPECIAL);
    expect(forced.sequences).toBe(all.length);
    expect(forced.scored).toBe(all.reduce((n, p) => n + p.actions.length + 1, 0));
    // The training pairs are learnt (teacher-forced), the held-out ones only partly.
    const onTrain = await evaluator.evaluate(trainData);
    expect(onTrain.accuracy).toBeGreaterThan(0.95);
    expect(forced.sequenceAccuracy).toBeLessThan(1);
    // Greedy decoding reproduces the teacher-forced inputs for exactly the sequences that teacher forcing gets
    // all right (causal mask: position t sees inputs 0..t only), so the two sequence accuracies are equal.
    expect(greedy.sequenceAccuracy).toBe(forced.sequenceAccuracy);
    expect(greedy.sequenceAccuracy).toBeGreaterThan(0.5);

    // The float64 reference decodes the same sequences with the GPU's trained parameters.
    const params = Float64Array.from(await engine.readParams());
    const refShape = { ...shape, batch: all.length };
    const ignored = new Int32Array(all.length * SCAN_DECODER_LEN).fill(IGNORE_TARGET);
    let minMargin = Infinity;
    const reference = await greedyDecode(all.length, SCAN_DECODER_LEN, tiny.nClasses, SCAN_SPECIAL, (inputs) => {
      const { logits } = referenceForward(tiny, engine.table, params, refShape, { source: data.source, tokens: inputs, targets: ignored });
      for (let r = 0; r < logits.length / tiny.nClasses; r++) {
        const row = Array.from(logits.subarray(r * tiny.nClasses, (r + 1) * tiny.nClasses)).sort((a, b) => b - a);
        minMargin = Math.min(minMargin, row[0] - row[1]);
      }
      return logits;
    });
    expect(minMargin, 'the reference has no near-tie that float32 could flip').toBeGreaterThan(1e-4);
    // Some sequences stop at EOS before the last position, and greedy decoding then predicts nothing more.
    const L = SCAN_DECODER_LEN;
    const stopped = all.filter((_, b) => reference[b * L + L - 1] === NOT_DECODED);
    expect(stopped.length).toBeGreaterThan(0);
    // The evaluator decodes for the score: each sequence stops where its outcome is settled, at its EOS or at its
    // first wrong token. Its predictions are the reference's up to there, and the sequence accuracy is the same.
    const expected = Int32Array.from(reference);
    let cutShort = 0;
    for (let b = 0; b < all.length; b++) {
      const row = b * L;
      let t = 0;
      while (t < L - 1 && reference[row + t] !== SCAN_SPECIAL.eos && reference[row + t] === data.targets[row + t]) t++;
      if (reference[row + t] !== SCAN_SPECIAL.eos && expected[row + t + 1] !== NOT_DECODED) cutShort++;
      expected.fill(NOT_DECODED, row + t + 1, row + L);
    }
    expect(cutShort, 'some sequences are settled wrong before their EOS').toBeGreaterThan(0);
    expect(Array.from(greedy.predictions)).toEqual(Array.from(expected));
    const full = scoreSequences(reference, data.targets, L);
    expect(greedy.sequenceAccuracy).toBe(full.correct / full.sequences);
  });
});

describe('SCAN through the trainer', () => {
  it('records teacher-forced token and sequence accuracy and greedy accuracy, and groks on sequence accuracy', async () => {
    const rt = await testRuntime();
    const base = resolveRunConfig('scan', 1, { steps: 3, evalEvery: 3 });
    const config = { ...base, model: tiny, shape: { ...base.shape, batch: 16 } };
    const trainer = await Trainer.create(rt, config);
    expect(await trainer.run()).toBe('completed');
    // A well-formed run file (its tiny model is not the scan preset's, so parseRunFile would refuse it).
    const run = RUN_FILE.parse(JSON.stringify(trainer.toRunFile()));
    expect(run.series.step).toEqual([3]);
    for (const key of ['trainAcc', 'testAcc', 'trainSeqAcc', 'testSeqAcc', 'testGreedyAcc'] as const) {
      for (const value of run.series[key]) expect(value, key).toBeGreaterThanOrEqual(0), expect(value, key).toBeLessThanOrEqual(1);
    }
    // The test set is 500 commands: each sequence accuracy is a whole number of them.
    for (const value of [...run.series.testSeqAcc, ...run.series.testGreedyAcc]) expect(Math.abs(value * 500 - Math.round(value * 500))).toBeLessThan(1e-9);
    // After 3 steps the model predicts far from every token of a sequence right.
    expect(run.series.testSeqAcc.at(-1)!).toBeLessThan(run.series.testAcc.at(-1)!);
    expect(grokMetric(config.task)).toBe('testSeqAcc');
  });
});
