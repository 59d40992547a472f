// The gap flow terms (docs/science.md §2) against values worked out by hand from the equation, at the first edge position,
// a middle one and the last allowed one (k* = number of singular values - 1), and bad input rejected by name.
import { describe, expect, it } from 'vitest';
import { gapFlowTerms, observedGapRate } from '../src/spectral/gap-flow';

describe('gap flow terms', () => {
  it('k* = 1', () => {
    // d = 5, 3: g = 2, dbar = 4; h = 0.5, 0.1: hbar = 0.3; G = 0.2, -0.1; eta 1e-3, omega 1, W 10.
    //   curvature asymmetry = -1e-3 * (0.5 - 0.1) * 4        = -1.6e-3
    //   damping             = -1e-3 * (0.3 + 1) * 2          = -2.6e-3
    //   gradient driving    = 1e-3 * 10 * (0.04 / 5 - 0.01 / 3) = 1e-2 * 0.0046666... = 4.6666...e-5
    const t = gapFlowTerms({ sigma: [5, 3, 2, 1], kStar: 1, curvature: [0.5, 0.1, 7, 7], gradientProjection: [0.2, -0.1, 9, 9], lr: 1e-3, weightDecay: 1, window: 10 });
    expect(t.gap).toBe(2);
    expect(t.curvatureAsymmetry).toBeCloseTo(-1.6e-3, 15);
    expect(t.damping).toBeCloseTo(-2.6e-3, 15);
    expect(t.gradientDriving).toBeCloseTo(4.6666666666666666e-5, 15);
    expect(t.predicted).toBeCloseTo(-1.6e-3 - 2.6e-3 + 4.6666666666666666e-5, 15);
  });

  it('a middle k*, equal curvatures and no gradient: damping only', () => {
    // d = 2.5, 0.5: g = 2; h = 1, 1; eta 1e-3, omega 0: damping = -1e-3 * 1 * 2 = -2e-3.
    const t = gapFlowTerms({ sigma: [4, 2.5, 0.5], kStar: 2, curvature: [3, 1, 1], gradientProjection: [5, 0, 0], lr: 1e-3, weightDecay: 0, window: 3 });
    expect(t.gap).toBe(2);
    expect(t.curvatureAsymmetry).toBeCloseTo(0, 15);
    expect(t.gradientDriving).toBeCloseTo(0, 15);
    expect(t.damping).toBeCloseTo(-2e-3, 15);
    expect(t.predicted).toBeCloseTo(-2e-3, 15);
  });

  it('the last allowed k* (number of singular values - 1)', () => {
    // d = 2, 1: g = 1, dbar = 1.5; h = -0.2, 0.6: hbar = 0.2; G = 0.5, 0.25; eta 0.01, omega 0.5, W 5.
    //   curvature asymmetry = -0.01 * (-0.8) * 1.5              = 0.012
    //   damping             = -0.01 * (0.2 + 0.5) * 1           = -0.007
    //   gradient driving    = 0.01 * 5 * (0.25 / 2 - 0.0625 / 1) = 0.05 * 0.0625 = 0.003125
    const t = gapFlowTerms({ sigma: [5, 3, 2, 1], kStar: 3, curvature: [9, 9, -0.2, 0.6], gradientProjection: [9, 9, 0.5, 0.25], lr: 0.01, weightDecay: 0.5, window: 5 });
    expect(t.gap).toBe(1);
    expect(t.curvatureAsymmetry).toBeCloseTo(0.012, 15);
    expect(t.damping).toBeCloseTo(-0.007, 15);
    expect(t.gradientDriving).toBeCloseTo(0.003125, 15);
    expect(t.predicted).toBeCloseTo(0.008125, 15);
  });

  it('rejects bad input with the name of the field', () => {
    const ok = { sigma: [5, 3, 2, 1], kStar: 1, curvature: [1, 1, 1, 1], gradientProjection: [0, 0, 0, 0], lr: 1e-3, weightDecay: 1, window: 10 };
    expect(() => gapFlowTerms({ ...ok, kStar: 0 })).toThrow(/kStar must be an integer in \[1, 3\]/);
    expect(() => gapFlowTerms({ ...ok, kStar: 4 })).toThrow(/kStar must be an integer in \[1, 3\]/);
    expect(() => gapFlowTerms({ ...ok, kStar: 1.5 })).toThrow(/kStar/);
    expect(() => gapFlowTerms({ ...ok, kStar: 3, curvature: [1, 1, 1] })).toThrow(/curvature has 3 modes, kStar = 3 needs 4/);
    expect(() => gapFlowTerms({ ...ok, sigma: [5, 0, 0] })).toThrow(/sigma_2 = 0.*must be positive/);
    expect(() => gapFlowTerms({ ...ok, lr: Number.NaN })).toThrow(/lr must be a finite number/);
    expect(() => gapFlowTerms({ ...ok, gradientProjection: [Infinity, 0] })).toThrow(/gradientProjection_1 must be a finite number/);
    expect(() => gapFlowTerms({ ...ok, window: 0 })).toThrow(/window must be a positive integer/);
  });
});

describe('observed gap rate', () => {
  it('is the change of the gap per step', () => {
    expect(observedGapRate(2, 1.5, 100)).toBeCloseTo(-0.005, 15);
    expect(observedGapRate(0.25, 0.75, 2)).toBe(0.25);
  });

  it('rejects a non-positive step count and non-finite gaps', () => {
    expect(() => observedGapRate(1, 2, 0)).toThrow(/stepsBetween must be positive/);
    expect(() => observedGapRate(Number.NaN, 2, 10)).toThrow(/gPrev must be a finite number/);
  });
});
