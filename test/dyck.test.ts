import { describe, expect, it } from 'vitest';
import { DYCK, DYCK_DATA_SEED, dyckBatch, dyckDepthLabels, dyckSplit, generateDyck } from '../src/tasks/dyck';
import { dyckLines } from '../src/cli/task-text';
import { IGNORE_TARGET } from '../src/model/batch';
import { PRESET_SHAPES } from '../src/train/presets';

const L = 24; // docs/science.md §1: context 24
const OPEN = 0;
const CLOSE = 1;
const PAD = 2;

function sequences(tokens: Uint32Array): number[][] {
  return Array.from({ length: tokens.length / L }, (_, s) => Array.from(tokens.subarray(s * L, (s + 1) * L)));
}

/** The non-PAD prefix of a sequence, after checking that PAD only ever follows the real tokens. */
function body(seq: number[]): number[] {
  const firstPad = seq.indexOf(PAD);
  const end = firstPad === -1 ? seq.length : firstPad;
  expect(seq.slice(end).every((t) => t === PAD)).toBe(true);
  return seq.slice(0, end);
}

/** -1 when the arrays are equal, else the first index where they differ (fast, unlike deep equality on typed arrays). */
function firstDifference(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) return Math.min(a.length, b.length);
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return i;
  return -1;
}

/**
 * Exact expected number of positions at each depth in one sequence, by propagating the generation rule's
 * probabilities over (opened, depth) states instead of sampling.
 */
function expectedDepthCounts(pOpen: number, maxPairs: number): number[] {
  const counts = new Array<number>(maxPairs + 1).fill(0);
  for (let n = 1; n <= maxPairs; n++) {
    let states = new Map<string, number>([['0,0', 1 / maxPairs]]);
    for (let j = 0; j < 2 * n; j++) {
      const next = new Map<string, number>();
      const add = (opened: number, depth: number, p: number) => {
        const key = `${opened},${depth}`;
        next.set(key, (next.get(key) ?? 0) + p);
        counts[depth] += p;
      };
      for (const [key, p] of states) {
        const [opened, depth] = key.split(',').map(Number);
        const canOpen = opened < n;
        const canClose = depth > 0;
        if (canOpen && canClose) {
          add(opened + 1, depth + 1, p * pOpen);
          add(opened, depth - 1, p * (1 - pOpen));
        } else if (canOpen) add(opened + 1, depth + 1, p);
        else add(opened, depth - 1, p);
      }
      states = next;
    }
  }
  return counts;
}

describe('Dyck-1 generation', () => {
  const N = 20000;
  const tokens = generateDyck(N, 7);
  const bodies = sequences(tokens).map(body);

  it('constants agree with the dyck presets', () => {
    for (const preset of [PRESET_SHAPES.dyck, PRESET_SHAPES['quick-dyck']]) {
      expect(preset.model.vocabSize).toBe(3);
      expect(preset.model.padToken).toBe(DYCK.pad);
      expect(preset.model.nClasses).toBe(DYCK.classes);
      expect(preset.shape.seqLen).toBe(DYCK.context);
      expect(preset.shape.readout).toEqual({ start: 0, count: DYCK.context });
    }
    expect(DYCK.context).toBe(L);
  });

  it('every sequence is balanced, 2n tokens of n in 1..12, PAD only after it', () => {
    expect(tokens.length).toBe(N * L);
    const malformed = bodies.filter((b) => {
      const depths = b.map((_, j) => b.slice(0, j + 1).reduce((d, t) => d + (t === OPEN ? 1 : t === CLOSE ? -1 : NaN), 0));
      const lengthOk = b.length % 2 === 0 && b.length >= 2 && b.length <= L;
      return !lengthOk || depths.some((d) => !(d >= 0)) || depths[depths.length - 1] !== 0;
    });
    expect(malformed).toEqual([]);
  });

  it('draws n uniformly from 1..12 (chi-square, 11 dof, p = 0.001 critical value)', () => {
    const counts = new Array<number>(13).fill(0);
    for (const b of bodies) counts[b.length / 2] += 1;
    expect(counts[0]).toBe(0);
    const expected = N / 12;
    const chi2 = counts.slice(1).reduce((s, c) => s + (c - expected) ** 2 / expected, 0);
    expect(chi2).toBeLessThan(31.26);
  });

  it('emits "(" with probability 0.55 where both tokens are legal (4-sigma binomial bound)', () => {
    let both = 0;
    let opens = 0;
    for (const b of bodies) {
      const n = b.length / 2;
      let opened = 0;
      let depth = 0;
      for (const t of b) {
        if (opened < n && depth > 0) {
          both += 1;
          if (t === OPEN) opens += 1;
        }
        opened += t === OPEN ? 1 : 0;
        depth += t === OPEN ? 1 : -1;
      }
    }
    const sd = Math.sqrt((0.55 * 0.45) / both);
    expect(both).toBeGreaterThan(10000);
    expect(Math.abs(opens / both - 0.55)).toBeLessThan(4 * sd);
  });

  it('labels are the depth after each token, IGNORE_TARGET on PAD', () => {
    const expected = sequences(tokens).flatMap((seq) =>
      seq.map((t, j) => {
        const prefix = seq.slice(0, j + 1);
        return t === PAD ? IGNORE_TARGET : prefix.filter((x) => x === OPEN).length - prefix.filter((x) => x === CLOSE).length;
      }),
    );
    expect(Array.from(dyckDepthLabels(tokens))).toEqual(expected);
  });

  // Per-sequence counts are independent across sequences, so their mean has a plain standard error. The deepest
  // classes are so rare (depth 12: 0.55^11 / 12 per sequence) that a sample may hold none and show variance 0;
  // the Poisson variance of a count with that mean is the floor.
  it('depth histogram per sequence matches the exact expectation (5 standard errors per class)', () => {
    const labels = dyckDepthLabels(tokens);
    const expected = expectedDepthCounts(0.55, 12);
    for (let d = 0; d <= 12; d++) {
      const perSeq = Array.from({ length: N }, (_, s) => labels.subarray(s * L, (s + 1) * L).filter((y) => y === d).length);
      const mean = perSeq.reduce((a, b) => a + b, 0) / N;
      const variance = perSeq.reduce((a, b) => a + (b - mean) ** 2, 0) / (N - 1);
      expect(Math.abs(mean - expected[d])).toBeLessThanOrEqual(5 * Math.sqrt(Math.max(variance, expected[d]) / N));
    }
  });

  it('is deterministic for a seed and differs between seeds', () => {
    expect(firstDifference(generateDyck(100, 3), generateDyck(100, 3))).toBe(-1);
    expect(firstDifference(generateDyck(100, 3), generateDyck(100, 4))).not.toBe(-1);
  });

  it('rejects token arrays that are not whole sequences', () => {
    expect(() => dyckDepthLabels(new Uint32Array(L + 1))).toThrow(/24-token/);
  });
});

describe('Dyck-1 split and batches', () => {
  const split = dyckSplit();

  it('is 50 train and 5,000 test sequences: the first 50 and the rest of 5,050 generated from the data seed', () => {
    expect(split.train.count).toBe(50);
    expect(split.test.count).toBe(5000);
    const all = generateDyck(5050, DYCK_DATA_SEED);
    expect(firstDifference(split.train.tokens, all.slice(0, 50 * L))).toBe(-1);
    expect(firstDifference(split.test.tokens, all.slice(50 * L))).toBe(-1);
    expect(firstDifference(split.train.targets, dyckDepthLabels(split.train.tokens))).toBe(-1);
    expect(firstDifference(split.test.targets, dyckDepthLabels(split.test.tokens))).toBe(-1);
  });

  it('is fixed by the data seed', () => {
    const again = dyckSplit(DYCK_DATA_SEED);
    expect(firstDifference(again.train.tokens, split.train.tokens)).toBe(-1);
    expect(firstDifference(again.test.tokens, split.test.tokens)).toBe(-1);
    expect(firstDifference(dyckSplit(DYCK_DATA_SEED + 1).train.tokens, split.train.tokens)).not.toBe(-1);
  });

  it('gathers the requested sequences into a batch', () => {
    const indices = [3, 0, 49, 3];
    const batch = dyckBatch(split.train, indices);
    expect(batch.tokens.length).toBe(indices.length * L);
    expect(batch.targets.length).toBe(indices.length * L);
    indices.forEach((j, i) => {
      expect(batch.tokens.subarray(i * L, (i + 1) * L)).toEqual(split.train.tokens.subarray(j * L, (j + 1) * L));
      expect(batch.targets.subarray(i * L, (i + 1) * L)).toEqual(split.train.targets.subarray(j * L, (j + 1) * L));
    });
    expect(() => dyckBatch(split.train, [50])).toThrow(/outside/);
  });

  it('prints as "( ( ) )<TAB>1 2 1 0" lines', () => {
    const tokens = new Uint32Array(2 * L).fill(PAD);
    tokens.set([OPEN, OPEN, CLOSE, CLOSE]);
    tokens.set([OPEN, CLOSE], L);
    expect(dyckLines({ count: 2, tokens, targets: dyckDepthLabels(tokens) })).toEqual(['( ( ) )\t1 2 1 0', '( )\t1 0']);
    const lines = dyckLines(split.test);
    expect(lines.length).toBe(5000);
    lines.forEach((line, s) => {
      const [symbols, depths] = line.split('\t');
      const seq = body(Array.from(split.test.tokens.subarray(s * L, (s + 1) * L)));
      expect(symbols).toBe(seq.map((t) => (t === OPEN ? '(' : ')')).join(' '));
      expect(depths.split(' ').map(Number)).toEqual(Array.from(split.test.targets.subarray(s * L, s * L + seq.length)));
    });
  });
});
