// Spectral records and options in the run file (no GPU): a record with gap-flow terms round-trips, a file from
// before the gapFlow option existed still loads, bad fields are named by path, and bad options are refused.
import { describe, expect, it } from 'vitest';
import { parseRunFile, resolveRunConfig } from '../src/train/run';
import { RUN_FILE_KIND, RUN_FILE_VERSION, type RunFile } from '../src/formats/run-file';
import { emptyMetrics } from '../src/train/metrics';
import type { SpectralRecord } from '../src/formats/spectral';

const record: SpectralRecord = {
  step: 200,
  sigma: [3, 2, 1.5, 0.5, 0.1],
  g23: 1.75,
  kStar: 1,
  gapRatio: 1.5,
  rotationDeg: [3.5, 12, 40, 80],
  gradEnergyFraction: [0.9, 0.5, 0.2, 0.1],
  alignment: [-1e-4, 2e-5, 0, 1e-6],
  trapezoidGradEnergyFraction: [0.88, 0.52, 0.2, 0.1],
  deltaGramNorm: 0.4,
  davisKahanAlpha: [0.97, 0.95, 0.9, 0.3],
  adiabatic: 400,
  gapFlow: {
    gap: 1, curvatureAsymmetry: -1e-4, damping: -2e-3, gradientDriving: 5e-5, predicted: -2.05e-3,
    curvature: [0.3, 0.1], gradientProjection: [0.01, -0.02], observed: null,
  },
};

function runWith(spectral: SpectralRecord[]): RunFile {
  const config = resolveRunConfig('quick-dyck', 1, { spectral: { gapFlow: true } });
  return {
    version: RUN_FILE_VERSION,
    kind: RUN_FILE_KIND,
    config,
    series: emptyMetrics().series,
    events: [],
    spectral,
    summary: { steps: 200, grokStep: null, stopReason: 'completed', final: null, wallMs: 1, adapter: 'test adapter' },
  };
}

const failure = (input: unknown) => {
  try {
    parseRunFile(input);
  } catch (err) {
    return (err as Error).message;
  }
  throw new Error('the run file was accepted');
};

describe('spectral records in the run file', () => {
  it('round-trip with and without gap-flow terms', () => {
    const { gapFlow: _, ...plain } = record;
    const run = runWith([record, { ...plain, step: 300, rotationDeg: [], deltaGramNorm: null, davisKahanAlpha: [], adiabatic: null }]);
    expect(parseRunFile(JSON.stringify(run))).toEqual(run);
  });

  it('loads a file written before the gapFlow option, and names bad fields', () => {
    const old = JSON.parse(JSON.stringify(runWith([])));
    delete old.config.spectral.gapFlow;
    expect(parseRunFile(old).config.spectral.gapFlow).toBeUndefined();

    const bad = JSON.parse(JSON.stringify(runWith([record])));
    bad.spectral[0].gapFlow.observed = 'soon';
    expect(failure(bad)).toContain('spectral[0].gapFlow.observed: must be number,null');
    delete bad.spectral[0].gapFlow.observed;
    expect(failure(bad)).toContain("spectral[0].gapFlow: must have required property 'observed'");
  });

  it('resolves the presets\' windows and refuses bad options', () => {
    expect(resolveRunConfig('quick-add', 1, {}).spectral).toEqual({ enabled: true, window: 10, snapshotEvery: 20, centred: false, subset: 'attn', k: 4, gapFlow: false });
    expect(resolveRunConfig('quick-dyck', 1, {}).spectral).toMatchObject({ window: 5, snapshotEvery: 100, k: 4 });
    expect(resolveRunConfig('scan', 1, {}).spectral).toMatchObject({ window: 5, snapshotEvery: 500 });
    expect(resolveRunConfig('modarith', 1, { spectral: { window: 3 } }).spectral).toMatchObject({ window: 3, snapshotEvery: 100, k: 3 });
    expect(() => resolveRunConfig('dyck', 1, { spectral: { k: 6 } })).toThrow(/spectral.k \(6\) must not exceed the window \(5\)/);
    expect(() => resolveRunConfig('dyck', 1, { spectral: { window: 1 } })).toThrow(/spectral.window must be an integer >= 2/);
    expect(() => resolveRunConfig('dyck', 1, { spectral: { gapFlow: 'yes' as never } })).toThrow(/spectral.gapFlow must be true or false/);
  });
});
