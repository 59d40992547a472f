// Checkpoint files: a run stopped halfway, written to bytes, read back into a fresh trainer and continued, ends
// bit-identical to the uninterrupted run (with and without the spectral edge's ring, taken mid-window); damaged
// files are refused with a message that says what is wrong.
import { describe, expect, it } from 'vitest';
import { testRuntime } from './helpers/gpu';
import { Trainer } from '../src/train/trainer';
import { resolveRunConfig } from '../src/train/run';
import { CHECKPOINT_VERSION, decodeCheckpoint, encodeCheckpoint } from '../src/train/checkpoint-file';

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
      await trainer.run({ shouldStop: () => trainer.step === 12 });
      trainer.setHyper({ weightDecay: 2 });
      await trainer.run();
    };
    const whole = await Trainer.create(rt, config);
    await finishWithDecayChange(whole);

    const first = await Trainer.create(rt, config);
    await first.run({ shouldStop: () => first.step === 10 });
    const bytes = encodeCheckpoint(await first.checkpoint(), config, { note: new TextEncoder().encode('extra section') });
    const decoded = decodeCheckpoint(bytes.slice());
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
    const trainer = await Trainer.create(rt, config);
    const checkpoint = await trainer.checkpoint();
    const bytes = encodeCheckpoint(checkpoint, config);
    const headerLength = new DataView(bytes.buffer).getUint32(8, true);
    const header = () => JSON.parse(new TextDecoder().decode(bytes.subarray(12, 12 + headerLength)));
    const sectionBytes = bytes.subarray(Math.ceil((12 + headerLength) / 4) * 4);

    expect(() => decodeCheckpoint(new TextEncoder().encode('{"version": 1}'))).toThrow(/checkpoint magic/);
    expect(() => encodeCheckpoint(checkpoint, config, { m: new Uint8Array(4) })).toThrow('the extra section name "m" is reserved');
    expect(() => decodeCheckpoint(bytes.slice(0, bytes.byteLength - 100))).toThrow(/section "v" ends at byte \d+, past the end of the file .*truncated/);
    expect(() => decodeCheckpoint(bytes.slice(0, 40))).toThrow(/truncated/);

    /** The same file with an edited header (the sections are kept, after the new header's padding). */
    const rewritten = (edit: (h: ReturnType<typeof header>) => void) => {
      const h = header();
      edit(h);
      const json = new TextEncoder().encode(JSON.stringify(h));
      const start = Math.ceil((12 + json.byteLength) / 4) * 4;
      const out = new Uint8Array(start + sectionBytes.byteLength);
      out.set(bytes.subarray(0, 8));
      new DataView(out.buffer).setUint32(8, json.byteLength, true);
      out.set(json, 12);
      out.set(sectionBytes, start);
      return out;
    };
    expect(() => decodeCheckpoint(rewritten((h) => (h.version = CHECKPOINT_VERSION + 1)))).toThrow(`version ${CHECKPOINT_VERSION + 1}; this lab reads version ${CHECKPOINT_VERSION}`);
    expect(() => decodeCheckpoint(rewritten((h) => (h.sections = h.sections.filter((s: { name: string }) => s.name !== 'm'))))).toThrow('section "m" is missing');
    const bigger = rewritten((h) => (h.config.model.dModel = 32));
    expect(() => decodeCheckpoint(bigger)).toThrow(/section "params" holds 37727 floats, the model has \d+ parameters/);
  });
});
