// Checkpoint files: a run stopped halfway, written to bytes, read back into a fresh trainer and continued, ends
// bit-identical to the uninterrupted run (with and without the spectral edge's ring, taken mid-window); damaged
// files are refused with a message that says what is wrong.
import { describe, expect, it } from 'vitest';
import { testRuntime } from './helpers/gpu';
import { Trainer } from '../src/train/trainer';
import { resolveRunConfig } from '../src/train/run';
import { decodeCheckpoint, encodeCheckpoint } from '../src/train/checkpoint-file';
import { CHECKPOINT_VERSION, crc32 } from '../src/formats/checkpoint-file';

const config = resolveRunConfig('quick-add', 3, { steps: 20, evalEvery: 5, weightDecay: 0.5, spectral: { enabled: false } });
/** Windows of 2 deltas of 3 steps: records at steps 6, 9, 12, ...; step 10 is inside a window. */
const withEdge = resolveRunConfig('quick-add', 3, { steps: 20, evalEvery: 5, weightDecay: 0.5, spectral: { window: 2, snapshotEvery: 3, k: 2 } });

describe('checkpoint files', () => {
  it.each([
    ['without the spectral edge', config],
    ['with the spectral edge', withEdge],
  ])('resume a run bit-identically from the bytes, with its metrics and hyperparameter changes (%s)', async (_, config) => {
    const rt = await testRuntime();
    // Both runs change the weight decay after step 12, as the page's slider would.
    const finishWithDecayChange = async (trainer: Trainer) => {
      await trainer.run({ until: 12 });
      trainer.setHyper({ weightDecay: 2 });
      await trainer.run();
    };
    const whole = await Trainer.create(rt, config);
    await finishWithDecayChange(whole);

    const first = await Trainer.create(rt, config);
    await first.run({ until: 10 });
    const bytes = encodeCheckpoint(await first.checkpoint(), config, { extra: { note: new TextEncoder().encode('extra section') } });
    const decoded = decodeCheckpoint(bytes.slice(), { run: { config, metrics: first.toRunFile() } });
    expect(decoded.config).toEqual(config);
    expect(new TextDecoder().decode(decoded.extra.note)).toBe('extra section');

    const resumed = await Trainer.create(rt, decoded.config);
    resumed.restore(decoded.checkpoint);
    expect(resumed.step).toBe(10);
    await finishWithDecayChange(resumed);

    expect(resumed.step).toBe(20);
    expect(Array.from(await resumed.engine.readParams())).toEqual(Array.from(await whole.engine.readParams()));
    const a = whole.toRunFile();
    const b = resumed.toRunFile();
    expect(b.series).toEqual(a.series);
    expect(b.events).toEqual(a.events);
    expect(b.events.filter((e) => e.type === 'hyper')).toHaveLength(1);
    expect(b.spectral).toEqual(a.spectral);
    expect(a.spectral?.length ?? 0).toBe(config.spectral.enabled ? 5 : 0);
    expect(decoded.checkpoint.spectral !== undefined).toBe(config.spectral.enabled);
  });

  it('refuse damaged or foreign bytes, naming the problem', async () => {
    const rt = await testRuntime();
    const trainer = await Trainer.create(rt, withEdge);
    await trainer.run({ until: 10 });
    const checkpoint = await trainer.checkpoint();
    const run = { config: withEdge, metrics: trainer.toRunFile() };
    const bytes = encodeCheckpoint(checkpoint, withEdge);
    const headerLength = new DataView(bytes.buffer).getUint32(8, true);
    const header = () => JSON.parse(new TextDecoder().decode(bytes.subarray(16, 16 + headerLength)));
    const sectionsStart = Math.ceil((16 + headerLength) / 4) * 4;
    const open = (b: Uint8Array, options = { run }) => decodeCheckpoint(b, options);
    expect(open(bytes).checkpoint.step).toBe(10);

    expect(() => open(new TextEncoder().encode('{"version": 1}'))).toThrow(/checkpoint magic/);
    expect(() => encodeCheckpoint(checkpoint, withEdge, { extra: { m: new Uint8Array(4) } })).toThrow('the extra section name "m" is reserved');
    expect(() => open(bytes.slice(0, bytes.byteLength - 100))).toThrow(/section "spectral\.\d" ends at byte \d+, past the end of the file .*truncated/);
    expect(() => open(bytes.slice(0, 40))).toThrow(/truncated/);

    // A flipped byte anywhere is found: in the header, and in every section (first, middle and last byte).
    const flipped = (at: number) => {
      const b = bytes.slice();
      b[at] ^= 0x10;
      return b;
    };
    expect(() => open(flipped(20))).toThrow('not a readable checkpoint: its header is damaged (checksum mismatch)');
    for (const s of header().sections as { name: string; byteOffset: number; byteLength: number }[]) {
      for (const at of [0, s.byteLength >> 1, s.byteLength - 1]) {
        expect(() => open(flipped(sectionsStart + s.byteOffset + at))).toThrow(`not a readable checkpoint: section "${s.name}" is damaged (checksum mismatch)`);
      }
    }

    /** The same file with an edited header, its checksum made to match (what a careless editor could do). */
    const rewritten = (edit: (h: ReturnType<typeof header>) => void) => {
      const h = header();
      edit(h);
      const json = new TextEncoder().encode(JSON.stringify(h));
      const start = Math.ceil((16 + json.byteLength) / 4) * 4;
      const out = new Uint8Array(start + bytes.byteLength - sectionsStart);
      out.set(bytes.subarray(0, 8));
      new DataView(out.buffer).setUint32(8, json.byteLength, true);
      new DataView(out.buffer).setUint32(12, crc32(json), true);
      out.set(json, 16);
      out.set(bytes.subarray(sectionsStart), start);
      return out;
    };
    expect(() => open(rewritten((h) => (h.version = CHECKPOINT_VERSION + 1)))).toThrow(`version ${CHECKPOINT_VERSION + 1}; this lab reads versions 1, 2`);
    expect(() => open(rewritten((h) => (h.sections = h.sections.filter((s: { name: string }) => s.name !== 'm'))))).toThrow('section "m" is missing');
    expect(() => open(rewritten((h) => (h.config.model.dModel = 32)))).toThrow(/section "params" holds 37727 floats, the model has \d+ parameters/);
    // Another run's checkpoint, or this run's with an edited step or seed, is refused when opened with the run.
    expect(() => open(rewritten((h) => (h.config.seed = 4)))).toThrow('not a readable checkpoint: it belongs to another run (config.seed is 4 in the checkpoint, 3 in the run)');
    expect(() => open(rewritten((h) => (h.history.evaluations = 1)))).toThrow(/its last evaluation \(step 10\) is not the run's at that point \(step 5\)/);
    expect(() => open(bytes, { run: { config: withEdge, metrics: { ...run.metrics, series: { ...run.metrics.series, step: [] } } } })).toThrow(/history is shorter than the checkpoint's/);
    expect(() => decodeCheckpoint(bytes)).toThrow(/it does not carry its history/);
    // With its history in the file it stands alone.
    expect(decodeCheckpoint(encodeCheckpoint(checkpoint, withEdge, { withHistory: true })).checkpoint.metrics.series.step).toEqual([5, 10]);
  });

  it('open version 1 files (history in the header, no checksums) with a warning', async () => {
    const rt = await testRuntime();
    const trainer = await Trainer.create(rt, config);
    await trainer.run({ until: 10 });
    const checkpoint = await trainer.checkpoint();
    const v1 = versionOneBytes(checkpoint, config, trainer.toRunFile());
    const decoded = decodeCheckpoint(v1);
    expect(decoded.warning).toMatch(/version 1, which carries no checksums/);
    expect(decoded.checkpoint.step).toBe(10);
    expect(Array.from(decoded.checkpoint.engine.params)).toEqual(Array.from(checkpoint.engine.params));
    expect(decoded.checkpoint.metrics.series.step).toEqual([5, 10]);
  });
});

/** A checkpoint as the lab wrote it before checksums (version 1: "SELCKPT\0", header with the metrics). */
function versionOneBytes(checkpoint: Awaited<ReturnType<Trainer['checkpoint']>>, config: unknown, metrics: unknown): Uint8Array {
  const payloads = [checkpoint.engine.params, checkpoint.engine.m, checkpoint.engine.v].map((a) => new Uint8Array(a.buffer, a.byteOffset, a.byteLength));
  let offset = 0;
  const sections = ['params', 'm', 'v'].map((name, i) => {
    const entry = { name, byteOffset: offset, byteLength: payloads[i].byteLength };
    offset += payloads[i].byteLength;
    return entry;
  });
  const { series, events } = metrics as { series: unknown; events: unknown };
  const header = new TextEncoder().encode(JSON.stringify({ version: 1, config, step: checkpoint.step, optim: checkpoint.engine.optim, sampler: checkpoint.sampler, metrics: { series, events }, sections }));
  const start = Math.ceil((12 + header.byteLength) / 4) * 4;
  const out = new Uint8Array(start + offset);
  out.set(new TextEncoder().encode('SELCKPT\0'));
  new DataView(out.buffer).setUint32(8, header.byteLength, true);
  out.set(header, 12);
  payloads.forEach((p, i) => out.set(p, start + sections[i].byteOffset));
  return out;
}
