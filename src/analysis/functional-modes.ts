// Functional modes (docs/science.md §3.7), the CPU part: given a response field f(a, b) over a set of operand pairs (the
// held-out pairs, typically: not the whole p x p grid), which cyclic structure it follows. f is grouped by a basis
// variable q and averaged, and the group means get a one-sided power spectrum (src/analysis/fourier.ts):
//   add     q = a + b mod p                  M = p
//   sub     q = a - b mod p                  M = p
//   mulRaw  q = a b mod p                    M = p
//   mulLog  q = dlog a + dlog b mod p - 1    M = p - 1, logs to the smallest primitive root; pairs with a = 0 or
//                                            b = 0 have no logarithm and are left out (counted in excludedPairs)
// and the 2-D spectrum of f on the (a, b) grid. For Dyck the same grouping with q = depth (M = max depth + 1).
//
// Missing data. A group q with no pair (e.g. q = 0 for mulRaw when the pairs exclude 0, or a sparse held-out set)
// is filled with the mean of the observed group means, so it adds nothing to the deviations the spectrum sees;
// dropping it instead would shorten the sequence and shift every frequency. Grid cells without a pair are filled
// the same way with the mean of the observed cells (a pair seen twice is averaged). Both fills leave the DFT of a
// masked field, whose power leaks from the true frequencies in proportion to how much is missing: the counts are
// reported (missingGroups, observedCells) so that a reader can judge the spectrum.
import { discreteLogTable } from '../tasks/discrete-log';
import { oneSidedSpectrum, spectrum2d, type Spectrum, type Spectrum2d } from './fourier';
import { ModBasis, MOD_BASES } from '../formats/experiments';

/** f(a_i, b_i) = values[i] over pairs (a_i, b_i) of residues mod the prime p. */
export interface ResponseField {
  p: number;
  a: ArrayLike<number>;
  b: ArrayLike<number>;
  values: ArrayLike<number>;
}

export interface GroupedSpectrum extends Spectrum {
  /** Number of groups: the period of q. */
  modulus: number;
  /** Mean of f per group q = 0..M-1, missing groups filled with the mean of the observed ones. */
  groupMeans: Float64Array;
  /** Pairs per group. */
  counts: Int32Array;
  /** Groups with no pair (filled). */
  missingGroups: number;
  /** Pairs without a value of q (zero operands in the mulLog basis). */
  excludedPairs: number;
}

/**
 * Means of `values` grouped by q in 0..modulus-1 (q = -1: left out), missing groups filled with the mean of the
 * observed group means, and the one-sided spectrum of the means.
 */
export function groupedSpectrum(values: ArrayLike<number>, q: ArrayLike<number>, modulus: number): GroupedSpectrum {
  if (values.length !== q.length) throw new RangeError(`groupedSpectrum: ${values.length} values but ${q.length} group indices`);
  if (!Number.isInteger(modulus) || modulus < 2) throw new RangeError(`groupedSpectrum: need at least 2 groups, got ${modulus}`);
  const sums = new Float64Array(modulus);
  const counts = new Int32Array(modulus);
  let excludedPairs = 0;
  for (let i = 0; i < q.length; i++) {
    if (!Number.isFinite(values[i])) throw new Error(`groupedSpectrum: value ${i} is ${values[i]}`);
    if (q[i] === -1) {
      excludedPairs++;
      continue;
    }
    if (!Number.isInteger(q[i]) || q[i] < 0 || q[i] >= modulus) throw new RangeError(`groupedSpectrum: group index ${q[i]} is outside 0..${modulus - 1}`);
    sums[q[i]] += values[i];
    counts[q[i]]++;
  }
  const observed = counts.reduce((n, c) => n + (c > 0 ? 1 : 0), 0);
  if (observed === 0) throw new Error('groupedSpectrum: no value falls in any group');
  const means = sums.map((s, k) => (counts[k] > 0 ? s / counts[k] : 0));
  const fill = means.reduce((s, m) => s + m, 0) / observed;
  const groupMeans = means.map((m, k) => (counts[k] > 0 ? m : fill));
  return { ...oneSidedSpectrum(groupMeans), modulus, groupMeans, counts, missingGroups: modulus - observed, excludedPairs };
}

function checkField(field: ResponseField): void {
  const { p, a, b, values } = field;
  if (a.length !== b.length || a.length !== values.length) {
    throw new RangeError(`response field: ${a.length} a, ${b.length} b and ${values.length} values must match`);
  }
  for (let i = 0; i < a.length; i++) {
    for (const x of [a[i], b[i]]) {
      if (!Number.isInteger(x) || x < 0 || x >= p) throw new RangeError(`response field: operand ${x} of pair ${i} is not a residue mod ${p}`);
    }
  }
}

/** q for every pair in `basis` (-1 where it has none) and its modulus M. */
export function basisVariable(field: ResponseField, basis: ModBasis): { q: Int32Array; modulus: number } {
  checkField(field);
  const { p, a, b } = field;
  const n = a.length;
  switch (basis) {
    case 'add':
      return { q: Int32Array.from({ length: n }, (_, i) => (a[i] + b[i]) % p), modulus: p };
    case 'sub':
      return { q: Int32Array.from({ length: n }, (_, i) => (a[i] - b[i] + p) % p), modulus: p };
    case 'mulRaw':
      return { q: Int32Array.from({ length: n }, (_, i) => (a[i] * b[i]) % p), modulus: p };
    case 'mulLog': {
      const { dlog } = discreteLogTable(p);
      const q = Int32Array.from({ length: n }, (_, i) => (a[i] === 0 || b[i] === 0 ? -1 : (dlog[a[i]] + dlog[b[i]]) % (p - 1)));
      return { q, modulus: p - 1 };
    }
  }
}

/** The grouped spectrum of the field in one basis. */
export function basisSpectrum(field: ResponseField, basis: ModBasis): GroupedSpectrum {
  const { q, modulus } = basisVariable(field, basis);
  return groupedSpectrum(field.values, q, modulus);
}

/** The grouped spectra of the field in every basis. */
export function allBasisSpectra(field: ResponseField): Record<ModBasis, GroupedSpectrum> {
  return Object.fromEntries(MOD_BASES.map((basis) => [basis, basisSpectrum(field, basis)])) as Record<ModBasis, GroupedSpectrum>;
}

export interface GridSpectrum extends Spectrum2d {
  /** Cells of the p x p grid holding at least one pair (the rest were filled). */
  observedCells: number;
}

/** The 2-D spectrum of the field on the p x p grid over (a, b) (k1 pairs with a, k2 with b), top `top` peaks. */
export function gridSpectrum(field: ResponseField, top = 5): GridSpectrum {
  checkField(field);
  const { p, a, b, values } = field;
  const sums = new Float64Array(p * p);
  const counts = new Int32Array(p * p);
  for (let i = 0; i < a.length; i++) {
    if (!Number.isFinite(values[i])) throw new Error(`gridSpectrum: value ${i} is ${values[i]}`);
    sums[a[i] * p + b[i]] += values[i];
    counts[a[i] * p + b[i]]++;
  }
  const observedCells = counts.reduce((n, c) => n + (c > 0 ? 1 : 0), 0);
  if (observedCells === 0) throw new Error('gridSpectrum: the field has no pairs');
  const cells = sums.map((s, i) => (counts[i] > 0 ? s / counts[i] : 0));
  const fill = cells.reduce((s, v) => s + v, 0) / observedCells;
  const grid = cells.map((v, i) => (counts[i] > 0 ? v : fill));
  return { ...spectrum2d(grid, p, p, top), observedCells };
}

/** Dyck: f grouped by depth (q = depth, M = the largest depth + 1); depth -1 (IGNORE_TARGET, padding) is left out. */
export function depthSpectrum(values: ArrayLike<number>, depths: ArrayLike<number>): GroupedSpectrum {
  let maxDepth = -1;
  for (let i = 0; i < depths.length; i++) maxDepth = Math.max(maxDepth, depths[i]);
  return groupedSpectrum(values, depths, maxDepth + 1);
}
