// Settings of the spectral edge (SPEC §2): window size W, snapshot cadence, centring, the tracked parameter
// subset, the number of edge vectors kept, whether each window also measures the gap-flow terms, and the solver
// of the window's spectrum (the W x W Gram matrix, or matrix-free Lanczos on X^T X; src/spectral/monitor.ts).

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
  /**
   * How each window's spectrum is computed: 'gram' (default) eigen-decomposes the W x W Gram matrix in float64 on the
   * CPU (all W singular values); 'lanczos' finds the top min(W, k + 1) singular values and the edge vectors directly
   * on the GPU by block Lanczos on X^T X (sigma then has those min(W, k + 1)
   * entries, and k* and R are taken over j <= k). Absent in
   * older run files and left out of the defaults: absent reads as 'gram'.
   */
  solver?: SpectralSolver;
}

export type SpectralSolver = 'gram' | 'lanczos';
export const SPECTRAL_SOLVERS: readonly SpectralSolver[] = ['gram', 'lanczos'];

export const spectralDefaults = (window: number, snapshotEvery: number): SpectralOptions => ({
  enabled: true,
  window,
  snapshotEvery,
  centred: false,
  subset: 'attn',
  k: Math.min(4, window),
  gapFlow: false,
});

/** The solver the options ask for ('gram' when absent: the defaults and older run files leave it out). */
export function solverOf(o: Pick<SpectralOptions, 'solver'>): SpectralSolver {
  return o.solver ?? 'gram';
}

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
  if (o.solver !== undefined && !SPECTRAL_SOLVERS.includes(o.solver)) {
    throw new SpectralOptionsError(`spectral.solver must be "gram" or "lanczos", got ${String(o.solver)}`);
  }
  if (o.subset !== 'attn' && o.subset !== 'all') throw new SpectralOptionsError(`spectral.subset must be "attn" or "all", got ${String(o.subset)}`);
}
