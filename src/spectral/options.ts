// Settings of the spectral edge (SPEC §2): window size W, snapshot cadence, centring, the tracked parameter
// subset, the number of edge vectors kept, and whether each window also measures the gap-flow terms.

export interface SpectralOptions {
  enabled: boolean;
  /** Deltas per window. */
  window: number;
  /** Steps per delta. */
  snapshotEvery: number;
  /** Subtract the window's mean delta before the spectrum (the functional-modes analysis uses W = 20 centred). */
  centred: boolean;
  /** theta_attn (every W_Q, W_K, W_V, W_O) or every parameter. */
  subset: 'attn' | 'all';
  /** Edge vectors v_1..v_k computed per window (k <= W). */
  k: number;
  /**
   * Also measure the gap-flow terms at each window (curvature and gradient along v_k*, v_k*+1 on the step's batch:
   * 2(k*+1)+1 forward passes and one backward pass per window). Off by default; absent in older run files.
   */
  gapFlow?: boolean;
}

export const spectralDefaults = (window: number, snapshotEvery: number): SpectralOptions => ({
  enabled: true,
  window,
  snapshotEvery,
  centred: false,
  subset: 'attn',
  k: Math.min(4, window),
  gapFlow: false,
});

export class SpectralOptionsError extends Error {
  override name = 'SpectralOptionsError';
}

export function validateSpectralOptions(o: SpectralOptions): void {
  const int = (name: string, v: number, min: number) => {
    if (!Number.isInteger(v) || v < min) throw new SpectralOptionsError(`spectral.${name} must be an integer >= ${min}, got ${v}`);
  };
  int('window', o.window, 2);
  int('snapshotEvery', o.snapshotEvery, 1);
  int('k', o.k, 1);
  if (o.k > o.window) throw new SpectralOptionsError(`spectral.k (${o.k}) must not exceed the window (${o.window})`);
  if (o.gapFlow !== undefined && typeof o.gapFlow !== 'boolean') throw new SpectralOptionsError(`spectral.gapFlow must be true or false, got ${String(o.gapFlow)}`);
  if (o.subset !== 'attn' && o.subset !== 'all') throw new SpectralOptionsError(`spectral.subset must be "attn" or "all", got ${String(o.subset)}`);
}
