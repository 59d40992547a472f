// The universality-class verdict (src/analysis/verdict.ts) on synthetic measurements: each class from the
// quantities that define it, the ablation ratio against the resolution when random effects are below one flip,
// and the evidence it reports.
import { describe, expect, it } from 'vitest';
import { lowAccuracyCaveat, universalityVerdict, VERDICT_THRESHOLDS, type VerdictInputs } from '../src/analysis/verdict';
import type { SpectralRecord } from '../src/formats/spectral';

const record = (step: number, gef: number, rotation: number | null): SpectralRecord => ({
  step, sigma: [3, 2, 1], g23: 3, kStar: 1, gapRatio: 1.5, rotationDeg: rotation === null ? [] : [rotation],
  gradEnergyFraction: [gef], alignment: [0], trapezoidGradEnergyFraction: [gef], deltaGramNorm: null, davisKahanAlpha: [], adiabatic: null,
});

const inputs = (gef: number, rotation: number, ablation: VerdictInputs['ablation'], kl: VerdictInputs['perturbation']): VerdictInputs => ({
  records: [record(100, 0.99, null), record(200, gef, rotation), record(300, gef, rotation), record(400, gef, rotation)],
  ablation,
  perturbation: kl,
});

describe('universality verdict', () => {
  it('calls an edge that matters far more than random directions functional', () => {
    const v = universalityVerdict(inputs(0.9, 30, { edge: 0.4, randomMean: 0.02, resolution: 0.001 }, { edgeMaxKl: 1, randomMaxKl: 0.5 }));
    expect(v.class).toBe('functional');
    expect(v.evidence.find((e) => e.quantity.startsWith('ablation ratio'))!.value).toBeCloseTo(20, 12);
  });

  it('calls a decay-dominated, frozen, functionally empty edge compression', () => {
    const v = universalityVerdict(inputs(0.1, 2, { edge: 0.0005, randomMean: 0.0004, resolution: 0.001 }, { edgeMaxKl: 0.011, randomMaxKl: 0.01 }));
    expect(v.class).toBe('compression');
    expect(v.evidence[0]).toMatchObject({ value: 0.1, met: true });
    expect(v.evidence[1]).toMatchObject({ value: 2, met: true });
  });

  it('calls it mixed when only some compression signs hold', () => {
    // Decay-dominated and empty but still rotating.
    const v = universalityVerdict(inputs(0.1, 40, { edge: 0.0005, randomMean: 0.0004, resolution: 0.001 }, { edgeMaxKl: 0.011, randomMaxKl: 0.01 }));
    expect(v.class).toBe('mixed');
    expect(v.reason).toContain('decay-dominated');
  });

  it('divides by the resolution when random removals flip less than one token, and says the ratio is a lower bound', () => {
    const v = universalityVerdict(inputs(0.9, 30, { edge: 0.002, randomMean: 0, resolution: 0.001 }, { edgeMaxKl: 0.01, randomMaxKl: 0.01 }));
    const ratio = v.evidence.find((e) => e.quantity.startsWith('ablation ratio'))!;
    expect(ratio.value).toBeCloseTo(2, 12);
    expect(ratio.quantity).toContain('lower bound');
    expect(v.class).toBe('mixed');
  });

  it('takes the medians over the last windows only', () => {
    const v = universalityVerdict({
      records: [record(1, 0.05, 1), record(2, 0.05, 1), ...[0.9, 0.8, 0.7].map((g, i) => record(3 + i, g, 20 + i))],
      ablation: { edge: 0.1, randomMean: 0.1, resolution: 0.001 },
      perturbation: { edgeMaxKl: 1, randomMaxKl: 1 },
    });
    expect(v.evidence[0].value).toBeCloseTo(0.8, 12);
    expect(v.evidence[1].value).toBeCloseTo(21, 12);
    expect(VERDICT_THRESHOLDS.lateWindows).toBe(3);
  });

  it('refuses to judge without a spectral window', () => {
    expect(() => universalityVerdict({ records: [], ablation: { edge: 0, randomMean: 0, resolution: 1 }, perturbation: { edgeMaxKl: 0, randomMaxKl: 0 } })).toThrow(/spectral window/);
  });

  it('names in its reason exactly the signs that hold, and each sign holds as its evidence rows say', () => {
    const cases: [number, number, VerdictInputs['ablation'], VerdictInputs['perturbation']][] = [];
    for (const gef of [0.1, 0.9])
      for (const rotation of [2, 40])
        for (const ablation of [{ edge: 0.0026, randomMean: 0.002, resolution: 0.0026 }, { edge: 0, randomMean: 0, resolution: 0.001 }, { edge: 0.01, randomMean: 0.004, resolution: 0.001 }, { edge: 0.4, randomMean: 0.01, resolution: 0.001 }])
          for (const kl of [{ edgeMaxKl: 1, randomMaxKl: 1 }, { edgeMaxKl: 2, randomMaxKl: 1 }, { edgeMaxKl: 5, randomMaxKl: 1 }]) cases.push([gef, rotation, ablation, kl]);
    for (const [gef, rotation, ablation, kl] of cases) {
      const v = universalityVerdict(inputs(gef, rotation, ablation, kl));
      const rows = (sign: string) => v.evidence.filter((e) => e.sign === sign).map((e) => e.met);
      const holds = Object.fromEntries(v.signs!.map((s) => [s.sign, s.holds]));
      expect(holds['decay-dominated']).toBe(rows('decay-dominated')[0]);
      expect(holds['nearly frozen']).toBe(rows('nearly frozen')[0]);
      expect(holds.functional).toBe(rows('functional').some(Boolean));
      const [ablationEmpty, klEmpty, belowFlip] = rows('functionally empty');
      expect(holds['functionally empty']).toBe(belowFlip || (ablationEmpty && klEmpty));
      if (v.class === 'mixed') {
        for (const sign of ['decay-dominated', 'functionally empty', 'nearly frozen']) expect(v.reason.includes(sign)).toBe(holds[sign] === true);
      }
      if (v.class === 'functional') expect(holds.functional).toBe(true);
    }
  });

  it('counts an edge ablation of exactly one token flip as one flip, not as "below one flip" (and not below its own resolution)', () => {
    // The page's case: edge |delta acc| 0.0026 = one flip of 385 targets; random pairs nearly as much; KL alike.
    const resolution = 1 / 385;
    const v = universalityVerdict(inputs(0.7, 30, { edge: resolution, randomMean: 0.8 * resolution, resolution }, { edgeMaxKl: 1.1, randomMaxKl: 1 }));
    expect(v.class).toBe('mixed');
    expect(v.reason).toContain('functionally empty');
    const flips = v.evidence.find((e) => e.quantity.startsWith('token flips'))!;
    expect(flips).toMatchObject({ threshold: '< 1, on its own', met: false });
    expect(flips.value).toBeCloseTo(1, 12);
    // The sign the reason names is backed by rows that pass: both ratios below the empty bar.
    expect(v.evidence.filter((e) => e.sign === 'functionally empty' && e.met).length).toBe(2);
  });

  it('warns that an ablation on a model that gets little of the test set right says little', () => {
    const at = (baseAccuracy: number) => universalityVerdict(inputs(0.9, 30, { edge: 0, randomMean: 0, resolution: 0.001, baseAccuracy }, { edgeMaxKl: 1, randomMaxKl: 1 }));
    expect(at(0).caveat).toMatch(/0\.0% of the test set right.*says little/);
    expect(at(0.3).caveat).toContain('30.0%');
    expect(at(0.99).caveat).toBeUndefined();
    expect(lowAccuracyCaveat(undefined)).toBeNull();
    expect(VERDICT_THRESHOLDS.minBaseAccuracy).toBe(0.5);
  });
});
