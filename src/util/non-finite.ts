// A value that went non-finite (NaN or +-Infinity) somewhere in the run's own computations: a training step, an
// evaluation, a spectral window, a gap-flow or causal probe, an experiment. Whoever finds one throws this, naming
// what it was and the values; the trainer turns it into a divergence (event, last good checkpoint, run file),
// never a crash.
export class NonFiniteError extends Error {
  override name = 'NonFiniteError';

  constructor(
    /** What went non-finite, e.g. "the spectral window's Gram matrix". */
    readonly what: string,
    readonly values: readonly number[] = [],
  ) {
    super(`${what} is not finite${values.length ? ` (${values.slice(0, 4).join(', ')}${values.length > 4 ? ', ...' : ''})` : ''}`);
  }
}

/** Throws a NonFiniteError naming `what` when any of `values` is NaN or infinite. */
export function assertFinite(what: string, values: Iterable<number>): void {
  const bad: number[] = [];
  for (const v of values) if (!Number.isFinite(v)) bad.push(v);
  if (bad.length > 0) throw new NonFiniteError(what, bad);
}
