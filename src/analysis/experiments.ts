// The names of the causal experiments (docs/science.md §3) and which run for a request: no GPU code, so the page's bundle
// (the experiment panels) and the CLI share them with the runner (run-analysis.ts).
import { EXPERIMENTS, ExperimentName } from '../formats/experiments';
import type { TaskSpec } from '../formats/task';

export function isExperimentName(name: string): name is ExperimentName {
  return (EXPERIMENTS as readonly string[]).includes(name);
}

/** The experiments to run for a request: the verdict brings the perturbation sweep and the ablation it reads. */
export function plannedExperiments(asked: readonly ExperimentName[]): ExperimentName[] {
  const wanted = new Set(asked);
  if (wanted.has('verdict')) {
    wanted.add('perturb');
    wanted.add('ablate');
  }
  return EXPERIMENTS.filter((name) => wanted.has(name));
}

export type TaskKind = TaskSpec['kind'];

/**
 * Why experiment `name` cannot run on a task of this kind (null: it can): probes need a Dyck depth or SCAN token
 * target, functional modes an operand or depth basis. The runners refuse the same cases (NotApplicableError).
 */
export function notForTask(name: ExperimentName, kind: TaskKind): string | null {
  if (name === 'probe' && kind !== 'dyck' && kind !== 'scan') return `probes are defined for Dyck depth and SCAN tokens (docs/science.md §3.6); the ${kind} task has no probe target`;
  if (name === 'fourier' && kind === 'scan') return 'functional modes are defined for modular arithmetic and Dyck (docs/science.md §3.7); SCAN has no operand or depth basis';
  return null;
}

/** The weight-decay intervention's defaults (docs/science.md §3.5): steps per branch and the branches' decay values. */
export const INTERVENTION_DEFAULTS = { steps: 3000, weightDecays: [0, 0.5, 1, 2] } as const;

/**
 * Above this measured ||H y - lambda y|| / |lambda| a top Hessian eigenvalue is an estimate even where Lanczos's
 * residual bound met its tolerance: the bound is exact for the operator the Krylov process saw, but finite-difference
 * Hessian-vector products in float32 are noisy, and that noise shows only in the residual measured afterwards.
 */
export const HESSIAN_RELATIVE_RESIDUAL_LIMIT = 0.05;

/** Per top Hessian eigenvalue: its measured relative residual, and whether to read the value as an estimate only. */
export function hessianPairQuality(h: { eigenvalues: readonly number[]; residuals: readonly number[]; converged: readonly boolean[] }) {
  return h.eigenvalues.map((value, i) => {
    const relativeResidual = h.residuals[i] / Math.abs(value);
    return { relativeResidual, estimate: !h.converged[i] || !(relativeResidual <= HESSIAN_RELATIVE_RESIDUAL_LIMIT) };
  });
}
