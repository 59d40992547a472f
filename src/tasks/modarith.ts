// Modular arithmetic (docs/science.md §1): (a op b) mod p from the input [a, b], read out at position 0.
import { Rng } from '../util/random';
import type { Batch } from '../model/batch';
import type { ModOp } from '../formats/task';

export const MOD_OPS = {
  add: (a: number, b: number, p: number) => (a + b) % p,
  sub: (a: number, b: number, p: number) => (((a - b) % p) + p) % p,
  mul: (a: number, b: number, p: number) => (a * b) % p,
  x2y2: (a: number, b: number, p: number) => (a * a + b * b) % p,
  x2xyy2: (a: number, b: number, p: number) => (a * a + a * b + b * b) % p,
  x3xy: (a: number, b: number, p: number) => (((a * a) % p) * a + a * b) % p,
} as const satisfies Record<ModOp, (a: number, b: number, p: number) => number>;

/** Operand pairs and their labels, as parallel arrays. */
export interface Pairs {
  a: Uint32Array;
  b: Uint32Array;
  y: Int32Array;
}

export interface ModArithSplit {
  p: number;
  op: ModOp;
  train: Pairs;
  test: Pairs;
}

export function isPrime(n: number): boolean {
  if (!Number.isInteger(n) || n < 2) return false;
  for (let k = 2; k * k <= n; k++) if (n % k === 0) return false;
  return true;
}

/** How many pairs (a, b) a modular task splits: a, b in 0..p-1, or in 1..p-1 for mul and for multitask (every op). */
export function modularPairCount(p: number, kind: 'modarith' | 'multitask', op?: ModOp): number {
  const n = kind === 'multitask' || op === 'mul' ? p - 1 : p;
  return n * n;
}

/**
 * All pairs (a, b) (a, b in 1..p-1 for mul, whose zero row is trivial; 0..p-1 otherwise), shuffled with the
 * run seed and split into train (the first floor(fraction * count): 576 of 961 pairs for p = 31 at 0.6) and test.
 */
export function modArithSplit(opts: { p: number; op: ModOp; trainFraction: number; seed: number }): ModArithSplit {
  const { p, op, trainFraction, seed } = opts;
  if (!isPrime(p)) throw new Error(`p must be a prime, got ${p}`);
  if (!(trainFraction > 0 && trainFraction < 1)) throw new Error(`trainFraction must be in (0, 1), got ${trainFraction}`);
  const lo = op === 'mul' ? 1 : 0;
  const pairs: [number, number][] = [];
  for (let a = lo; a < p; a++) for (let b = lo; b < p; b++) pairs.push([a, b]);
  Rng.derive(seed, 'modarith-split').shuffle(pairs);
  const nTrain = Math.floor(trainFraction * pairs.length);
  const f = MOD_OPS[op];
  const toPairs = (list: [number, number][]): Pairs => ({
    a: Uint32Array.from(list, ([a]) => a),
    b: Uint32Array.from(list, ([, b]) => b),
    y: Int32Array.from(list, ([a, b]) => f(a, b, p)),
  });
  return { p, op, train: toPairs(pairs.slice(0, nTrain)), test: toPairs(pairs.slice(nTrain)) };
}

/** The batch of the pairs at `indices` (tokens [a, b] per sequence, one target each). */
export function modArithBatch(pairs: Pairs, indices: ArrayLike<number>): Batch {
  const n = indices.length;
  const tokens = new Uint32Array(2 * n);
  const targets = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    const j = indices[i];
    tokens[2 * i] = pairs.a[j];
    tokens[2 * i + 1] = pairs.b[j];
    targets[i] = pairs.y[j];
  }
  return { tokens, targets };
}
