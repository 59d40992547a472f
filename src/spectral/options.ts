// The spectral edge's settings (docs/science.md §2; the type is src/formats/spectral.ts): the defaults a preset's window
// gets, and their checks.
import { SPECTRAL_LIMITS, SPECTRAL_SOLVERS, SPECTRAL_SUBSETS, type SpectralOptions, type SpectralSolver } from '../formats/spectral';

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
  const int = (name: keyof typeof SPECTRAL_LIMITS, v: number) => {
    const { min, max } = SPECTRAL_LIMITS[name];
    if (!Number.isInteger(v) || v < min || v > max) throw new SpectralOptionsError(`spectral.${name} must be an integer in [${min}, ${max}], got ${v}`);
  };
  int('window', o.window);
  int('snapshotEvery', o.snapshotEvery);
  int('k', o.k);
  if (o.k > o.window) throw new SpectralOptionsError(`spectral.k (${o.k}) must not exceed the window (${o.window})`);
  if (o.gapFlow !== undefined && typeof o.gapFlow !== 'boolean') throw new SpectralOptionsError(`spectral.gapFlow must be true or false, got ${String(o.gapFlow)}`);
  if (o.solver !== undefined && !SPECTRAL_SOLVERS.includes(o.solver)) {
    throw new SpectralOptionsError(`spectral.solver must be "gram" or "lanczos", got ${String(o.solver)}`);
  }
  if (!SPECTRAL_SUBSETS.includes(o.subset)) throw new SpectralOptionsError(`spectral.subset must be "attn" or "all", got ${String(o.subset)}`);
}
