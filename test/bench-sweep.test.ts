// The sweep's reading of its cells (src/bench/sweep.ts): a cell is dispatch-bound while its step takes less than
// twice the smallest step's time, and the turn lies between the largest dispatch-bound step and the smallest
// compute-bound one; and which presets a plain `npm run bench` times. No GPU.
import { describe, expect, it } from 'vitest';
import { classify } from '../src/bench/sweep';
import { BENCH_PRESETS, defaultBenchPresets } from '../src/bench/benchmark';

const cell = (dModel: number, batch: number, gflopPerStep: number, msPerStep: number) => ({
  dModel, batch, params: 0, dispatchesPerStep: 50, gflopPerStep, stepsTimed: 8, msPerStep, gflops: gflopPerStep / (msPerStep / 1000),
});

describe('the sweep', () => {
  it('marks cells dispatch- or compute-bound against the smallest step and says where it turns', () => {
    const out = classify([cell(64, 16, 0.01, 1.0), cell(64, 1024, 0.4, 1.6), cell(256, 1024, 6.4, 9.0), cell(512, 1024, 25, 30)]);
    expect(out.cells.map((c) => c.bound)).toEqual(['dispatch', 'dispatch', 'compute', 'compute']);
    expect(out.turnsAtGflopPerStep).toBe(1.6); // sqrt(0.4 * 6.4)
    expect(out.summary).toMatch(/^dispatch-bound up to 0.4 GFLOP a step .* compute-bound from 6.4 GFLOP a step: it turns at about 1.6 GFLOP a step; the best cell reaches/);
  });

  it('says so when every cell is dispatch-bound, or none was timed', () => {
    const flat = classify([cell(64, 16, 0.01, 1.0), cell(128, 16, 0.04, 1.1)]);
    expect(flat.turnsAtGflopPerStep).toBeNull();
    expect(flat.summary).toMatch(/^dispatch-bound at every size timed \(up to 0.04 GFLOP a step/);
    expect(classify([]).summary).toBe('no cell was timed');
  });
});

describe('a plain npm run bench', () => {
  it('times every preset on a GPU, and leaves SCAN (minutes a step) to --presets all on a software adapter', () => {
    expect(defaultBenchPresets(false)).toEqual({ presets: [...BENCH_PRESETS], skipped: [] });
    const software = defaultBenchPresets(true);
    expect(software.skipped).toEqual(['scan']);
    expect(software.presets).toEqual(BENCH_PRESETS.filter((p) => p !== 'scan'));
  });
});
