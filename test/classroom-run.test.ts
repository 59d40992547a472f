// The classroom lesson on runs the real engine recorded (`npm run experiment -- --preset quick-dyck --seed S
// --snapshot-every 50`, trimmed to what the lesson reads: test/fixtures/classroom-seed*.run.json): on seeds 1, 2, 3
// and 42 every key moment happens and holds for at least two points (evaluations, or spectral windows), the
// walkthrough, fed the run as the page streams it, follows it to its last step and ends with every moment seen; and
// the recorded demo in public/ is one of these runs, played back by the worker through the same batches. No GPU.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parseRunFile } from '../src/train/run';
import type { RunFile } from '../src/formats/run-file';
import { PRESETS } from '../src/train/presets';
import { DECAY_DRIVEN_ENERGY, EDGE_NECESSARY_COST, GROK_TEST_ACCURACY, MEMORISATION_TRAIN_ACCURACY, MOMENT_PERSISTENCE, NO_KEY_MOMENTS, detectKeyMoments, type KeyMoments } from '../src/store/key-moments';
import { CLASSROOM_RUN, WALKTHROUGH_STEPS, followRun, momentLines } from '../src/ui/walkthrough';
import { createLabStore, createTables } from '../src/store/lab-store';
import { LabApi } from '../src/worker/lab-api';
import type { LabBatch } from '../src/formats/worker';

const CLASSROOM_SEEDS = [1, 2, 3, 42];
const fixture = (seed: number): RunFile => parseRunFile(readFileSync(`test/fixtures/classroom-seed${seed}.run.json`, 'utf8'));

/** The moments of the first `rows` evaluations and the records and probes up to their last step, as the page has them then. */
function momentsUpTo(file: RunFile, rows: number): KeyMoments {
  const last = file.series.step[rows - 1] ?? -1;
  const records = (file.spectral ?? []).filter((r) => r.step <= last);
  const probes = (file.causal ?? []).filter((r) => r.step <= last);
  return detectKeyMoments({
    evaluations: { step: file.series.step.slice(0, rows), trainAcc: file.series.trainAcc.slice(0, rows), testAcc: file.series.testAcc.slice(0, rows) },
    spectral: { step: records.map((r) => r.step), energy1: records.map((r) => r.gradEnergyFraction[0]) },
    causal: {
      step: probes.map((r) => r.step),
      edgeDeltaAcc: probes.map((r) => r.ablation.edge.deltaAccuracy),
      randomMaxAbsDelta: probes.map((r) => r.ablation.randomMaxAbsDelta),
      resolution: probes.map((r) => r.resolution),
    },
    events: file.events.filter((e) => e.step <= last),
  });
}

/** Whether `values` from the row at `step` on pass `test` for MOMENT_PERSISTENCE rows in a row. */
function holds(steps: number[], values: number[], step: number, test: (v: number) => boolean): boolean {
  const i = steps.indexOf(step);
  return i >= 0 && i + MOMENT_PERSISTENCE <= steps.length && values.slice(i, i + MOMENT_PERSISTENCE).every(test);
}

describe('the classroom run, recorded by the real engine', () => {
  for (const seed of CLASSROOM_SEEDS) {
    it(`seed ${seed}: every key moment happens and holds for two points, and the walkthrough follows the run to its end`, () => {
      const file = fixture(seed);
      // It is the classroom run: quick-dyck at its own settings, snapshots every 50 steps.
      expect(file.config).toMatchObject({ preset: CLASSROOM_RUN.preset, seed, steps: PRESETS['quick-dyck'].steps, evalEvery: PRESETS['quick-dyck'].evalEvery });
      expect(file.config.optim.weightDecay).toBe(PRESETS['quick-dyck'].optim.weightDecay);
      expect(file.config.spectral).toMatchObject({ window: PRESETS['quick-dyck'].spectral.window, snapshotEvery: Number(CLASSROOM_RUN.values.snapshotEvery) });
      // With the live causal probes at the preset's cadence, as classroom mode runs them.
      expect(file.config.causal).toMatchObject({ enabled: true, every: 200 });

      const moments = momentsUpTo(file, file.series.step.length);
      const { memorisation, grokking, decayDriven, edgeNecessary } = moments;
      expect(memorisation && grokking && decayDriven && edgeNecessary, JSON.stringify(moments)).toBeTruthy();
      const { step, trainAcc, testAcc } = file.series;
      expect(holds(step, trainAcc, memorisation!.step, (v) => v >= MEMORISATION_TRAIN_ACCURACY)).toBe(true);
      expect(holds(step, testAcc, grokking!.step, (v) => v >= GROK_TEST_ACCURACY)).toBe(true);
      const records = file.spectral!;
      const energy = records.map((r) => r.gradEnergyFraction[0]);
      expect(holds(records.map((r) => r.step), energy, decayDriven!.step, (v) => v < DECAY_DRIVEN_ENERGY)).toBe(true);
      expect(decayDriven!.step).toBeGreaterThanOrEqual(memorisation!.step);
      const probes = file.causal!;
      expect(holds(probes.map((r) => r.step), probes.map((r) => r.ablation.edge.deltaAccuracy), edgeNecessary!.step, (v) => v <= -EDGE_NECESSARY_COST)).toBe(true);
      const at = probes.findIndex((r) => r.step === edgeNecessary!.step);
      for (const r of probes.slice(at, at + MOMENT_PERSISTENCE)) expect(r.ablation.randomMaxAbsDelta).toBeLessThan(r.resolution);

      // The run over, the walkthrough's log has every moment seen.
      expect(momentLines(moments, { phase: 'finished', spectral: true, causal: true }).map((l) => l.state)).toEqual(['seen', 'seen', 'seen', 'seen']);
      // Streamed one evaluation at a time, the walkthrough (started on its second step) follows the run to the last.
      let index = 1;
      let before = NO_KEY_MOMENTS;
      for (let rows = 1; rows <= step.length; rows++) {
        const now = momentsUpTo(file, rows);
        index = followRun(index, before, now, true);
        before = now;
      }
      expect(WALKTHROUGH_STEPS[index].id).toBe('try');
    });
  }
});

describe('the recorded demo', () => {
  it('is the classroom run, seed 1, and the worker plays it back through the batches a live run sends', async () => {
    const demo = parseRunFile(readFileSync('public/demo/classroom.run.json', 'utf8'));
    const recorded = fixture(1);
    expect(demo.config).toEqual(recorded.config);
    expect(demo.series).toEqual(recorded.series);
    expect(demo.spectral!.map((r) => [r.step, r.gradEnergyFraction[0], r.g23])).toEqual(recorded.spectral!.map((r) => [r.step, r.gradEnergyFraction[0], r.g23]));

    const batches: LabBatch[] = [];
    const api = new LabApi({ acquire: () => Promise.reject(new Error('a playback must not need the GPU')) });
    api.subscribe((b) => batches.push(b));
    const tables = createTables();
    const store = createLabStore(tables);
    const started = await api.playRun({ runFile: demo, title: 'the classroom run', durationMs: 600 });
    expect(started).toMatchObject({ phase: 'playing', recording: { title: 'the classroom run', adapter: demo.summary.adapter } });
    expect(started.step).toBeLessThan(demo.summary.steps);
    const phases = new Set<string>();
    let rowBatches = 0;
    while (store.getState().status.phase !== 'viewing') {
      await new Promise((r) => setTimeout(r, 20));
      for (const batch of batches.splice(0)) {
        store.getState().applyBatch(batch);
        phases.add(batch.status.phase);
        if (batch.metrics) rowBatches += 1;
      }
    }
    expect(phases).toEqual(new Set(['playing', 'viewing']));
    expect(rowBatches).toBeGreaterThan(2);
    // Released in step order over several batches, then the whole run: the same rows, records and moments.
    expect(Array.from(tables.metrics.column('step'))).toEqual(demo.series.step);
    expect(Array.from(tables.spectral.column('step'))).toEqual(demo.spectral!.map((r) => r.step));
    expect(store.getState().moments).toEqual(momentsUpTo(demo, demo.series.step.length));
    expect(store.getState().status).toMatchObject({ phase: 'viewing', step: demo.summary.steps, recording: { title: 'the classroom run' } });
    expect(await api.exportRun()).toEqual(demo);

    // Skipping: the rest at once.
    await api.playRun({ runFile: demo, title: 'again' });
    expect((await api.skipPlayback()).phase).toBe('viewing');
  });
});
