// The spectral edge's settings and records (docs/science.md §2) as plain data: window size W, snapshot cadence, centring,
// the tracked parameter subset, the number of edge vectors kept, the gap-flow terms and the solver of the window's
// spectrum (src/spectral/monitor.ts); and the typed record the trainer appends to the run file and the worker
// streams to the page for each analysed window. The same record for both solvers (SpectralOptions.solver); with
// 'lanczos' sigma and davisKahanAlpha cover only the computed top min(W, K + 1) singular values, and `lanczos`
// holds the solver's residuals.

export interface SpectralOptions {
  enabled: boolean;
  /** Deltas per window. */
  window: number;
  /** Steps per delta. */
  snapshotEvery: number;
  /** Subtract the window's mean delta before the spectrum (the functional-modes analysis uses W = 20 centred). */
  centred: boolean;
  /** theta_attn (every W_Q, W_K, W_V, W_O) or every parameter. */
  subset: SpectralSubset;
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

/**
 * Limits of the spectral options: W and K bound the window's matrices (W x W Grams, K edge vectors of P floats on
 * the GPU), the snapshot cadence a run's length.
 */
export const SPECTRAL_LIMITS = { window: { min: 2, max: 256 }, k: { min: 1, max: 64 }, snapshotEvery: { min: 1, max: 10_000_000 } } as const;

/** theta_attn (every W_Q, W_K, W_V, W_O) or every parameter. */
export const SPECTRAL_SUBSETS = ['attn', 'all'] as const;
export type SpectralSubset = (typeof SPECTRAL_SUBSETS)[number];

export const SPECTRAL_SOLVERS: readonly SpectralSolver[] = ['gram', 'lanczos'];

export interface GapFlowTerms {
  /** g = d_{k*} - d_{k*+1}. */
  gap: number;
  curvatureAsymmetry: number;
  damping: number;
  gradientDriving: number;
  /** The sum of the three terms: the predicted dg/dt per step. */
  predicted: number;
}

/** Bumped when a field changes meaning or is removed (new optional fields keep it). */
export const SPECTRAL_RECORD_VERSION = 1;

export interface SpectralRecord {
  /** The optimiser step at which the window's newest delta ends. */
  step: number;
  /** sigma_1 >= ... >= sigma_W of the window (centred if the run centres); solver 'lanczos': sigma_1..sigma_min(W, K+1). */
  sigma: number[];
  /** sigma_2^2 - sigma_3^2 (null when W < 3). */
  g23: number | null;
  /** argmax_j (sigma_j / sum sigma)(sigma_j / sigma_{j+1}), 1-based, and R = sigma_k* / sigma_k*+1 (null: rank < 2). */
  kStar: number | null;
  gapRatio: number | null;
  /** Angle between v_k and the previous window's v_k, degrees, k = 1..min(4, K) (empty for the first window). */
  rotationDeg: number[];
  /** For each edge direction v_k, k = 1..K: mean <g_i,v_k>^2 / (mean <g_i,v_k>^2 + mean <w_i,v_k>^2). */
  gradEnergyFraction: number[];
  /** mean_i <g_i, v_k><w_i, v_k>: positive when gradient and decay push the same way along v_k. */
  alignment: number[];
  /** The same fraction with the papers' trapezoid estimate of the decay part, for comparison. */
  trapezoidGradEnergyFraction: number[];
  /** ||G(t) - G(t-1)||_F between consecutive windows' Gram matrices (time-aligned rows; null for the first). */
  deltaGramNorm: number | null;
  /** max(0, 1 - ||Delta G||_F^2 / (sigma_j^2 - sigma_{j+1}^2)^2), j = 1..W-1 (solver 'lanczos': j < sigma.length; empty for the first window). */
  davisKahanAlpha: number[];
  /** ||Delta G||_F / (lr * g^2), g = sigma_k* - sigma_k*+1 (null for the first window or without k*). */
  adiabatic: number | null;
  /** The gap-flow equation at the edge (runs with `gapFlow` on, when k* + 1 <= K edge vectors exist). */
  gapFlow?: GapFlowRecord;
  /** Runs with solver 'lanczos': how well the Lanczos solve of this window converged. */
  lanczos?: LanczosRecord;
  /** The stable ranks of W_Q and W_K at this step (absent in older run files). */
  stableRank?: StableRankRecord;
}

/**
 * ||W||_F^2 / ||W||_2^2 (src/spectral/stable-rank.ts) of W_Q (q[i]) and W_K (k[i]) of attention module i, in
 * theta_attn's order (src/model/params.ts: attentionModules; one module per layer, and in a decoder each layer's
 * cross-attention after its self-attention), in float64 from the float32 parameters after the window's last step.
 * NaN where the matrix is zero or not finite (a diverging run), which has no stable rank.
 */
export interface StableRankRecord {
  q: number[];
  k: number[];
}

/** The matrix-free Lanczos solve of a window (src/spectral/lanczos.ts on X^T X, or (CX)^T CX when centred). */
export interface LanczosRecord {
  /**
   * ||A y_j - theta_j y_j|| for each computed pair j = 1..sigma.length in sigma's order: A = X^T X applied in float32
   * on the GPU to the unit Ritz vector y_j (= +-v_j), theta_j its Ritz value; units of sigma^2.
   */
  residual: number[];
  /** Operator applications of the Krylov process (the residual checks not counted). */
  iterations: number;
  /** Whether every pair's residual bound met the solver's tolerance (1e-5 max theta) within its iterations. */
  converged: boolean;
}

/** Gap-flow terms per step (src/spectral/gap-flow.ts) at the window's k*, next to the observed rate. */
export interface GapFlowRecord extends GapFlowTerms {
  /** h_j = v_j^T H v_j and G_j = <v_j, grad L> for j = 1..k*+1, on the batch of the snapshot step, at theta after it. */
  curvature: number[];
  gradientProjection: number[];
  /** (g - g_previous window) / snapshotEvery with both gaps at this window's k*; null for the first window. */
  observed: number | null;
}
