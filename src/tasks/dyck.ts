// Dyck-1 depth tagging (docs/science.md §1): balanced "(" / ")" sequences, label at each position = depth after that token.
import { Rng } from '../util/random';
import { IGNORE_TARGET, type Batch } from '../model/batch';

export const DYCK = {
  open: 0,
  close: 1,
  pad: 2,
  /** Tokens per sequence; a sequence of n pairs fills 2n of them and PAD the rest. */
  context: 24,
  /** Depth classes 0..maxPairs. */
  classes: 13,
  maxPairs: 12,
  /** P("(") at a position where both tokens are legal. */
  openProbability: 0.55,
} as const;

/** The fixed data seed: every run trains and tests on the same 5,050 sequences, whatever its run seed. */
export const DYCK_DATA_SEED = 1729;

export const DYCK_SPLIT_SIZES = { train: 50, test: 5000 } as const;

/** A set of sequences as one batch of all of them: tokens and depth targets, both [count * context]. */
export interface DyckSet extends Batch {
  count: number;
}

export interface DyckSplit {
  train: DyckSet;
  test: DyckSet;
}

/**
 * `count` sequences, [count * context] tokens. Each draws n ~ U{1..maxPairs}, then left to right: "(" is legal
 * while fewer than n have been opened, ")" while the depth is positive; where both are legal "(" comes with
 * openProbability. This always closes every pair, so a sequence is balanced and 2n tokens long.
 */
export function generateDyck(count: number, seed: number): Uint32Array {
  const rng = Rng.derive(seed, 'dyck');
  const tokens = new Uint32Array(count * DYCK.context).fill(DYCK.pad);
  for (let s = 0; s < count; s++) {
    const pairs = 1 + rng.int(DYCK.maxPairs);
    let opened = 0;
    let depth = 0;
    for (let j = 0; j < 2 * pairs; j++) {
      const canOpen = opened < pairs;
      const canClose = depth > 0;
      const open = canOpen && (!canClose || rng.uniform() < DYCK.openProbability);
      tokens[s * DYCK.context + j] = open ? DYCK.open : DYCK.close;
      opened += open ? 1 : 0;
      depth += open ? 1 : -1;
    }
  }
  return tokens;
}

/** Depth after each token, per sequence of `context` tokens; IGNORE_TARGET at PAD positions. */
export function dyckDepthLabels(tokens: Uint32Array): Int32Array {
  if (tokens.length % DYCK.context !== 0) throw new Error(`${tokens.length} tokens is not a whole number of ${DYCK.context}-token sequences`);
  const labels = new Int32Array(tokens.length);
  let depth = 0;
  for (let i = 0; i < tokens.length; i++) {
    if (i % DYCK.context === 0) depth = 0;
    const t = tokens[i];
    if (t === DYCK.pad) {
      labels[i] = IGNORE_TARGET;
      continue;
    }
    depth += t === DYCK.open ? 1 : -1;
    labels[i] = depth;
  }
  return labels;
}

/**
 * The fixed data set: 5,050 sequences generated in order from `dataSeed`; the first 50 are train, the remaining
 * 5,000 test (the sequences are drawn independently, so no shuffle is needed). Nothing is deduplicated: short
 * sequences recur, so some test sequences also occur in train.
 */
export function dyckSplit(dataSeed: number = DYCK_DATA_SEED): DyckSplit {
  const total = DYCK_SPLIT_SIZES.train + DYCK_SPLIT_SIZES.test;
  const tokens = generateDyck(total, dataSeed);
  const targets = dyckDepthLabels(tokens);
  const cut = DYCK_SPLIT_SIZES.train * DYCK.context;
  return {
    train: { count: DYCK_SPLIT_SIZES.train, tokens: tokens.slice(0, cut), targets: targets.slice(0, cut) },
    test: { count: DYCK_SPLIT_SIZES.test, tokens: tokens.slice(cut), targets: targets.slice(cut) },
  };
}

/** The batch of the sequences at `indices` (every position is a readout). */
export function dyckBatch(set: DyckSet, indices: ArrayLike<number>): Batch {
  const n = indices.length;
  const L = DYCK.context;
  const tokens = new Uint32Array(n * L);
  const targets = new Int32Array(n * L);
  for (let i = 0; i < n; i++) {
    const j = indices[i];
    if (!(j >= 0 && j < set.count)) throw new Error(`sequence index ${j} is outside [0, ${set.count})`);
    tokens.set(set.tokens.subarray(j * L, (j + 1) * L), i * L);
    targets.set(set.targets.subarray(j * L, (j + 1) * L), i * L);
  }
  return { tokens, targets };
}
