// Fourier spectra and functional modes against an independent float64 DFT: the textbook sum with
// Math.cos(2 pi k n / M) (no twiddle table, no separable 2-D pass), and group means computed here by hand.
// Tolerances: spectra of random fields agree to 1e-12 relative to the total power; a pure cosine puts all its
// power (1 - 1e-12) on its own frequency.
import { describe, expect, it } from 'vitest';
import { dft2dPower, dftPower, oneSidedSpectrum, spectrum2d } from '../src/analysis/fourier';
import { allBasisSpectra, basisSpectrum, depthSpectrum, gridSpectrum, groupedSpectrum, type ResponseField } from '../src/analysis/functional-modes';
import { discreteLogTable } from '../src/tasks/discrete-log';
import { modArithSplit } from '../src/tasks/modarith';
import { Rng } from '../src/util/random';

function naivePower(x: ArrayLike<number>): number[] {
  const m = x.length;
  return Array.from({ length: m }, (_, k) => {
    let re = 0;
    let im = 0;
    for (let n = 0; n < m; n++) {
      re += x[n] * Math.cos((2 * Math.PI * k * n) / m);
      im -= x[n] * Math.sin((2 * Math.PI * k * n) / m);
    }
    return re * re + im * im;
  });
}

function naivePower2d(grid: ArrayLike<number>, rows: number, cols: number): number[] {
  const out: number[] = [];
  for (let k1 = 0; k1 < rows; k1++) {
    for (let k2 = 0; k2 < cols; k2++) {
      let re = 0;
      let im = 0;
      for (let a = 0; a < rows; a++) {
        for (let b = 0; b < cols; b++) {
          const angle = 2 * Math.PI * (k1 * a / rows + k2 * b / cols);
          re += grid[a * cols + b] * Math.cos(angle);
          im -= grid[a * cols + b] * Math.sin(angle);
        }
      }
      out.push(re * re + im * im);
    }
  }
  return out;
}

/** The one-sided normalised spectrum over 1..floor(M/2), from the naive DFT. */
function naiveOneSided(x: ArrayLike<number>): number[] {
  const half = naivePower(x).slice(1, Math.floor(x.length / 2) + 1);
  const total = half.reduce((s, v) => s + v, 0);
  return half.map((v) => v / total);
}

/** max |actual - expected| <= tol * scale. */
function expectAllClose(actual: ArrayLike<number>, expected: ArrayLike<number>, tol: number, scale = 1): void {
  expect(actual.length).toBe(expected.length);
  let worst = 0;
  for (let i = 0; i < expected.length; i++) worst = Math.max(worst, Math.abs(actual[i] - expected[i]));
  expect(worst / scale).toBeLessThanOrEqual(tol);
}

const randomArray = (rng: Rng, n: number) => Float64Array.from({ length: n }, () => rng.normal());
const sum = (x: ArrayLike<number>) => Array.from(x).reduce((s, v) => s + v, 0);

describe('1-D spectra', () => {
  it('match the direct DFT sum on random sequences (odd and even lengths)', () => {
    const rng = new Rng(11);
    for (const m of [2, 7, 12, 30, 31, 96, 113]) {
      const x = randomArray(rng, m);
      const expected = naivePower(x);
      expectAllClose(dftPower(x), expected, 1e-12, sum(expected));
      expectAllClose(oneSidedSpectrum(x).power, naiveOneSided(x), 1e-12);
      expect(sum(oneSidedSpectrum(x).power)).toBeCloseTo(1, 12);
    }
  });

  it('put all the power of a cosine on its frequency (F = 1), Nyquist included', () => {
    for (const [m, k] of [[31, 3], [31, 15], [30, 7], [30, 15], [113, 40]]) {
      const x = Float64Array.from({ length: m }, (_, n) => 2 + Math.cos((2 * Math.PI * k * n) / m + 0.7));
      const s = oneSidedSpectrum(x);
      expect(s.peakFrequency, `M ${m}, k ${k}`).toBe(k);
      expect(s.concentration).toBeGreaterThan(1 - 1e-12);
      expect(s.uniformLevel).toBe(1 / Math.floor(m / 2));
    }
  });

  it('find a cosine under noise, with the same spectrum as the direct sum', () => {
    const rng = new Rng(5);
    const m = 97;
    const x = Float64Array.from({ length: m }, (_, n) => Math.cos((2 * Math.PI * 9 * n) / m) + 0.3 * rng.normal());
    const s = oneSidedSpectrum(x);
    expect(s.peakFrequency).toBe(9);
    expect(s.concentration).toBeGreaterThan(10 * s.uniformLevel);
    expectAllClose(s.power, naiveOneSided(x), 1e-12);
  });

  it('report a constant as flat (no peak, F = 0) instead of normalising rounding noise', () => {
    for (const x of [new Float64Array(31).fill(0.1), new Float64Array(12)]) {
      const s = oneSidedSpectrum(x);
      expect(s.peakFrequency).toBeNull();
      expect(s.concentration).toBe(0);
      expect(s.power.every((v) => v === 0)).toBe(true);
    }
  });

  it('reject non-finite values and sequences too short for a frequency', () => {
    expect(() => oneSidedSpectrum([1, NaN, 2])).toThrow(/element 1 is NaN/);
    expect(() => oneSidedSpectrum([1])).toThrow(/at least 2/);
  });
});

describe('2-D spectra', () => {
  it('match the direct double sum on random grids', () => {
    const rng = new Rng(3);
    for (const [rows, cols] of [[7, 9], [13, 13], [6, 4]]) {
      const grid = randomArray(rng, rows * cols);
      const expected = naivePower2d(grid, rows, cols);
      expectAllClose(dft2dPower(grid, rows, cols), expected, 1e-12, sum(expected));
    }
  });

  it('name the frequency pair of a plane wave once, with k1 > 0', () => {
    const p = 13;
    for (const [k1, k2] of [[2, 5], [3, -2], [0, 4], [6, -6]]) {
      const grid = Float64Array.from({ length: p * p }, (_, i) => Math.cos((2 * Math.PI * (k1 * Math.floor(i / p) + k2 * (i % p))) / p));
      const s = spectrum2d(grid, p, p, 3);
      expect(s.peaks[0].k1).toBe(k1);
      expect(s.peaks[0].k2).toBe(k2);
      expect(s.peaks[0].power).toBeGreaterThan(1 - 1e-12);
      expect(s.uniformLevel).toBe(1 / ((p * p - 1) / 2));
    }
  });
});

describe('functional modes', () => {
  const p = 31;
  const heldOut = (op: 'add' | 'mul') => modArithSplit({ p, op, trainFraction: 0.7, seed: 4 }).test;
  const field = (op: 'add' | 'mul', f: (a: number, b: number) => number): ResponseField => {
    const { a, b } = heldOut(op);
    return { p, a, b, values: Float64Array.from(a, (x, i) => f(x, b[i])) };
  };

  it('group by the basis variable and take the spectrum of the group means (as computed by hand)', () => {
    const rng = new Rng(8);
    const base = field('add', () => rng.normal());
    const { dlog } = discreteLogTable(p);
    const bases = {
      add: (a: number, b: number) => (a + b) % p,
      sub: (a: number, b: number) => (a - b + p) % p,
      mulRaw: (a: number, b: number) => (a * b) % p,
      mulLog: (a: number, b: number) => (a && b ? (dlog[a] + dlog[b]) % (p - 1) : -1),
    };
    const spectra = allBasisSpectra(base);
    for (const [basis, q] of Object.entries(bases) as [keyof typeof bases, (a: number, b: number) => number][]) {
      const m = basis === 'mulLog' ? p - 1 : p;
      const sums = new Array<number>(m).fill(0);
      const counts = new Array<number>(m).fill(0);
      for (let i = 0; i < base.a.length; i++) {
        const g = q(base.a[i], base.b[i]);
        if (g < 0) continue;
        sums[g] += base.values[i];
        counts[g]++;
      }
      expect(counts.every((c) => c > 0) || basis === 'mulRaw', basis).toBe(true);
      const means = sums.map((s, g) => s / counts[g]);
      const s = spectra[basis];
      expect(s.modulus).toBe(m);
      expectAllClose(s.groupMeans, means, 1e-12);
      expectAllClose(s.power, naiveOneSided(means), 1e-12);
      expect(s.excludedPairs).toBe(basis === 'mulLog' ? Array.from(base.a).filter((a, i) => a === 0 || base.b[i] === 0).length : 0);
    }
  });

  it('find a cosine of a + b in the add basis and of dlog a + dlog b in the discrete-log basis', () => {
    const add = basisSpectrum(field('add', (a, b) => 0.5 + Math.cos((2 * Math.PI * 3 * (a + b)) / p)), 'add');
    expect(add.peakFrequency).toBe(3);
    expect(add.concentration).toBeGreaterThan(1 - 1e-12);
    expect(add.missingGroups).toBe(0);

    const { dlog } = discreteLogTable(p);
    const mulField = field('mul', (a, b) => Math.cos((2 * Math.PI * 4 * (dlog[a] + dlog[b])) / (p - 1)));
    const spectra = allBasisSpectra(mulField);
    expect(spectra.mulLog.peakFrequency).toBe(4);
    expect(spectra.mulLog.concentration).toBeGreaterThan(1 - 1e-12);
    expect(spectra.mulLog.excludedPairs).toBe(0);
    // The mul task has no zero operands, so the raw product never hits q = 0: that group is filled.
    expect(spectra.mulRaw.missingGroups).toBe(1);
    expect(spectra.mulRaw.concentration).toBeLessThan(0.5);
  });

  it('fill a missing group with the mean of the observed groups and count it', () => {
    const rng = new Rng(2);
    const full = field('add', () => rng.normal());
    const keep = [...Array(full.a.length).keys()].filter((i) => (full.a[i] + full.b[i]) % p !== 5);
    const sparse: ResponseField = {
      p, a: keep.map((i) => full.a[i]), b: keep.map((i) => full.b[i]), values: keep.map((i) => full.values[i]),
    };
    const s = basisSpectrum(sparse, 'add');
    expect(s.missingGroups).toBe(1);
    expect(s.counts[5]).toBe(0);
    const others = [...s.groupMeans].filter((_, q) => q !== 5);
    expect(s.groupMeans[5]).toBeCloseTo(sum(others) / others.length, 14);
  });

  it('show a plane wave on the (a, b) grid from the held-out pairs, filling unseen cells', () => {
    const s = gridSpectrum(field('add', (a, b) => Math.cos((2 * Math.PI * (2 * a - 5 * b)) / p)));
    expect(s.observedCells).toBe(heldOut('add').a.length);
    expect([s.peaks[0].k1, s.peaks[0].k2]).toEqual([2, -5]);
    // The mask leaks power away from the wave, but it stays by far the strongest pair.
    expect(s.peaks[0].power).toBeGreaterThan(20 * s.peaks[1].power);
    const complete = gridSpectrum({ p: 7, a: [...Array(49).keys()].map((i) => Math.floor(i / 7)), b: [...Array(49).keys()].map((i) => i % 7), values: [...Array(49).keys()].map((i) => Math.sin((2 * Math.PI * 3 * (i % 7)) / 7)) });
    expect(complete.observedCells).toBe(49);
    expect([complete.peaks[0].k1, complete.peaks[0].k2, complete.peaks[0].power > 1 - 1e-12]).toEqual([0, 3, true]);
  });

  it('group Dyck positions by depth, leaving out padding (depth -1)', () => {
    const depths = [0, 1, 2, 3, 2, 1, 0, -1, -1, 1, 2, 1, 0, 3];
    const values = depths.map((d) => (d === 3 ? 4 : d));
    const s = depthSpectrum(values, depths);
    expect(s.modulus).toBe(4);
    expect(s.excludedPairs).toBe(2);
    expect([...s.groupMeans]).toEqual([0, 1, 2, 4]);
    expectAllClose(s.power, naiveOneSided([0, 1, 2, 4]), 1e-12);
  });

  it('reject bad fields with a message', () => {
    expect(() => basisSpectrum({ p, a: [1, 2], b: [3], values: [1, 2] }, 'add')).toThrow(/must match/);
    expect(() => basisSpectrum({ p, a: [1, 31], b: [3, 4], values: [1, 2] }, 'sub')).toThrow(/not a residue mod 31/);
    expect(() => basisSpectrum({ p, a: [1, 2], b: [3, 4], values: [1, Infinity] }, 'add')).toThrow(/value 1 is Infinity/);
    expect(() => basisSpectrum({ p, a: [0, 0], b: [3, 4], values: [1, 2] }, 'mulLog')).toThrow(/no value falls/);
    expect(() => groupedSpectrum([1, 2], [0, 7], 5)).toThrow(/outside 0..4/);
  });
});
