// The live causal probes through the training worker's API (src/worker/lab-api.ts) on the GPU (SwiftShader where
// there is no GPU): the records stream to the page as they are taken and equal the run file's, a run loaded from
// its file or resumed from a saved checkpoint sends all of its records in the reset batch, and the page's store
// turns the stream into its causal table. A tiny run: quick-add, 15 steps, a probe every 5 steps from the first
// full window (steps 10 and 15) on 16 sequences.
import { describe, expect, it } from 'vitest';
import { acquireNodeDevice } from '../src/gpu/node-gpu';
import { LabApi } from '../src/worker/lab-api';
import type { LabBatch, StartRequest } from '../src/formats/worker';
import type { RunFile } from '../src/formats/run-file';
import { createLabStore, createTables } from '../src/store/lab-store';
import { savedRunStore } from './helpers/saved-runs';

const REQUEST: StartRequest = {
  preset: 'quick-add',
  seed: 3,
  overrides: { steps: 15, evalEvery: 5, spectral: { window: 2, snapshotEvery: 5 }, causal: { enabled: true, every: 5, sequences: 16, randomPairs: 2 } },
};

const settle = () => new Promise((r) => setTimeout(r, 120)); // past the worker API's 50 ms flush

async function until(what: string, condition: () => boolean, timeoutMs = 300_000): Promise<void> {
  const start = performance.now();
  while (!condition()) {
    if (performance.now() - start > timeoutMs) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('live causal records through the worker', () => {
  const { store, saves } = savedRunStore();
  let file: RunFile;

  it('streams each probe as it is taken, the same records as the run file', async () => {
    const batches: LabBatch[] = [];
    const api = new LabApi({ acquire: acquireNodeDevice, store });
    api.subscribe((b) => batches.push(b));
    await api.start(REQUEST);
    await until('the run to finish', () => batches.at(-1)?.status.phase === 'finished');
    await settle();
    file = await api.exportRun();
    expect(file.config.causal).toEqual({ enabled: true, every: 5, sequences: 16, randomPairs: 2, epsRelative: 0.005 });
    expect(file.causal!.map((r) => r.step)).toEqual([10, 15]);
    const streamed = batches.flatMap((b) => b.causal ?? []);
    expect(streamed).toEqual(file.causal);
    // One record per batch at most here: each came with the chunk that took it, not at the end.
    expect(batches.filter((b) => b.causal?.length).length).toBe(2);

    const tables = createTables();
    const page = createLabStore(tables);
    for (const b of batches) page.getState().applyBatch(b);
    expect(page.getState().causalCount).toBe(2);
    expect(Array.from(tables.causal.column('edgeDeltaAcc'))).toEqual(file.causal!.map((r) => r.ablation.edge.deltaAccuracy));
    expect(page.getState().form.values).toMatchObject({ causal: 'on', causalEvery: '5', causalSequences: '16', causalRandom: '2', causalEps: '' });
  });

  it('sends all of a run’s records when it is opened from its file or resumed from a checkpoint', async () => {
    const viewed: LabBatch[] = [];
    const viewer = new LabApi({ acquire: () => Promise.reject(new Error('viewing a run file must not need the GPU')) });
    viewer.subscribe((b) => viewed.push(b));
    await viewer.loadRun({ runFile: JSON.stringify(file) });
    await settle();
    expect(viewed.find((b) => b.reset)!.causal).toEqual(file.causal);

    // The save of the checkpoint at step 10 holds the probe of step 10; resuming it takes the one of step 15 again.
    const mid = saves.find((s) => s.summary.checkpointStep === 10);
    expect(mid).toBeDefined();
    const resumed: LabBatch[] = [];
    const api = new LabApi({ acquire: acquireNodeDevice });
    api.subscribe((b) => resumed.push(b));
    await api.loadRun({ runFile: mid!.runFile, checkpoint: mid!.checkpoint! });
    await settle();
    expect(resumed.find((b) => b.reset)!.causal!.map((r) => r.step)).toEqual([10]);
    await api.resume();
    await until('the resumed run to finish', () => resumed.at(-1)?.status.phase === 'finished');
    await settle();
    expect(resumed.flatMap((b) => b.causal ?? [])).toEqual(file.causal);
  });
});
