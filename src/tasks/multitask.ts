// Multitask modular arithmetic (docs/science.md §1): one trunk reads [a, b] and one task head per operation predicts
// (a op b) mod p. Pairs a, b in 1..p-1 for every op, one seeded train/test split shared by all heads.
import { Rng } from '../util/random';
import type { Batch } from '../model/batch';
import { MOD_OPS, isPrime } from './modarith';
import type { ModOp } from '../formats/task';

/** The default heads: the four operations of docs/science.md §1 that grok. */
export const MULTITASK_OPS: readonly ModOp[] = ['add', 'sub', 'mul', 'x2y2'];

/** Operand pairs and, per pair, one label per op (row-major [pair, op]). */
export interface MultitaskPairs {
  a: Uint32Array;
  b: Uint32Array;
  labels: Int32Array;
}

export interface MultitaskSplit {
  p: number;
  ops: readonly ModOp[];
  train: MultitaskPairs;
  test: MultitaskPairs;
}

export function multitaskSplit(opts: { p: number; ops: readonly ModOp[]; trainFraction: number; seed: number }): MultitaskSplit {
  const { p, ops, trainFraction, seed } = opts;
  if (!isPrime(p)) throw new Error(`p must be a prime, got ${p}`);
  if (!(trainFraction > 0 && trainFraction < 1)) throw new Error(`trainFraction must be in (0, 1), got ${trainFraction}`);
  if (ops.length === 0) throw new Error('multitask needs at least one op');
  for (const op of ops) if (!Object.hasOwn(MOD_OPS, op)) throw new Error(`unknown op "${op}"; choose from ${Object.keys(MOD_OPS).join(', ')}`);
  if (new Set(ops).size !== ops.length) throw new Error(`ops must be distinct, got ${ops.join(', ')}`);
  const pairs: [number, number][] = [];
  for (let a = 1; a < p; a++) for (let b = 1; b < p; b++) pairs.push([a, b]);
  Rng.derive(seed, 'multitask-split').shuffle(pairs);
  const nTrain = Math.floor(trainFraction * pairs.length);
  const toPairs = (list: [number, number][]): MultitaskPairs => {
    const labels = new Int32Array(list.length * ops.length);
    list.forEach(([a, b], i) => ops.forEach((op, h) => (labels[i * ops.length + h] = MOD_OPS[op](a, b, p))));
    return { a: Uint32Array.from(list, ([a]) => a), b: Uint32Array.from(list, ([, b]) => b), labels };
  };
  return { p, ops, train: toPairs(pairs.slice(0, nTrain)), test: toPairs(pairs.slice(nTrain)) };
}

/** The batch of the pairs at `indices`: tokens [a, b] per sequence, one target per head. */
export function multitaskBatch(pairs: MultitaskPairs, heads: number, indices: ArrayLike<number>): Batch {
  const n = indices.length;
  const tokens = new Uint32Array(2 * n);
  const targets = new Int32Array(n * heads);
  for (let i = 0; i < n; i++) {
    const j = indices[i];
    tokens[2 * i] = pairs.a[j];
    tokens[2 * i + 1] = pairs.b[j];
    targets.set(pairs.labels.subarray(j * heads, (j + 1) * heads), i * heads);
  }
  return { tokens, targets };
}
