// Discrete logs against brute force: the root is the smallest residue whose powers list every nonzero residue,
// and each logarithm is the exponent found by trying them all.
import { describe, expect, it } from 'vitest';
import { discreteLogTable, smallestPrimitiveRoot } from '../src/tasks/discrete-log';

/** Brute force: g is a primitive root when g^1..g^(p-1) are p-1 distinct residues. */
function bruteSmallestRoot(p: number): number {
  for (let g = 2; g < p; g++) {
    const seen = new Set<number>();
    for (let k = 1, x = g; k < p; k++, x = (x * g) % p) seen.add(x);
    if (seen.size === p - 1) return g;
  }
  throw new Error('none');
}

describe('discrete logarithms', () => {
  const primes = [3, 5, 7, 11, 13, 31, 97, 113, 193];

  it('finds the smallest primitive root (known values: 7 -> 3, 31 -> 3, 97 -> 5, 113 -> 3, 193 -> 5)', () => {
    for (const p of primes) expect(smallestPrimitiveRoot(p), `p = ${p}`).toBe(bruteSmallestRoot(p));
    expect([7, 31, 97, 113, 193].map(smallestPrimitiveRoot)).toEqual([3, 3, 5, 3, 5]);
  });

  it('gives every nonzero residue its exponent: g^dlog[a] = a, and dlog is a bijection onto 0..p-2', () => {
    for (const p of primes) {
      const { root, dlog } = discreteLogTable(p);
      expect(dlog[0]).toBe(-1);
      for (let a = 1; a < p; a++) {
        let x = 1;
        for (let k = 0; k < dlog[a]; k++) x = (x * root) % p;
        expect(x, `p ${p}, a ${a}`).toBe(a);
      }
      expect(new Set(dlog.subarray(1)).size).toBe(p - 1);
      expect(Math.max(...dlog.subarray(1))).toBe(p - 2);
      // Multiplication becomes addition: dlog(ab) = dlog a + dlog b mod p-1.
      for (const [a, b] of [[2, p - 2], [p - 1, p - 1], [2, 2]]) {
        expect(dlog[(a * b) % p]).toBe((dlog[a] + dlog[b]) % (p - 1));
      }
    }
  });

  it('rejects what has no discrete logs here', () => {
    for (const bad of [1, 2, 4, 91, 2.5, -7]) expect(() => discreteLogTable(bad), String(bad)).toThrow(/odd prime/);
  });
});
