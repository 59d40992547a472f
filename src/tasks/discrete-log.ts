// Discrete logarithms modulo a prime p, for the multiplicative basis of the functional-modes analysis (docs/science.md §3:
// q = dlog a + dlog b mod p-1 turns multiplication into addition): the smallest primitive root g of p, and
// dlog[a] with g^dlog[a] = a (mod p) for a in 1..p-1.
import { isPrime } from './modarith';

function checkPrime(p: number): void {
  if (!isPrime(p) || p < 3) throw new Error(`discrete logs need an odd prime p, got ${p}`);
}

/** The distinct prime factors of n. */
function primeFactors(n: number): number[] {
  const factors: number[] = [];
  for (let k = 2; k * k <= n; k++) {
    if (n % k !== 0) continue;
    factors.push(k);
    while (n % k === 0) n /= k;
  }
  if (n > 1) factors.push(n);
  return factors;
}

/** base^exp mod m, exactly for m < 2^26 (every intermediate product stays below 2^53). */
function powMod(base: number, exp: number, m: number): number {
  let result = 1;
  let b = base % m;
  for (let e = exp; e > 0; e = Math.floor(e / 2)) {
    if (e % 2 === 1) result = (result * b) % m;
    b = (b * b) % m;
  }
  return result;
}

/** The smallest g in 2..p-1 whose powers reach every nonzero residue: g^((p-1)/q) != 1 for each prime q | p-1. */
export function smallestPrimitiveRoot(p: number): number {
  checkPrime(p);
  if (p >= 2 ** 26) throw new Error(`p must be below 2^26 for exact arithmetic, got ${p}`);
  const factors = primeFactors(p - 1);
  for (let g = 2; g < p; g++) {
    if (factors.every((q) => powMod(g, (p - 1) / q, p) !== 1)) return g;
  }
  throw new Error(`no primitive root found for ${p}`); // unreachable for a prime
}

/** dlog[a] in 0..p-2 for a in 1..p-1 (dlog[0] is -1: zero has no logarithm), to the smallest primitive root. */
export function discreteLogTable(p: number): { root: number; dlog: Int32Array } {
  const root = smallestPrimitiveRoot(p);
  const dlog = new Int32Array(p).fill(-1);
  for (let k = 0, x = 1; k < p - 1; k++, x = (x * root) % p) dlog[x] = k;
  return { root, dlog };
}
