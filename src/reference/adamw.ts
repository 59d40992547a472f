// Float64 optimiser step with PyTorch semantics: torch.nn.utils.clip_grad_norm_(max_norm) over all
// parameters, then torch.optim.AdamW (decoupled decay on every parameter, or on those a decay mask selects, as
// with Low-Rank Decay; bias-corrected moments).
// Oracle for shaders/reduce.wgsl + shaders/adamw.wgsl, and the optimiser of the float64 reference model.
import { decays, type OptimConfig, type DecayMask } from '../formats/optim';

/**
 * One step t (t = 1 for the first step), in place on `params`, `m` and `v`; `grads` is not modified. With a
 * `decayMask` (src/formats/optim.ts) only the parameters whose bit is set are decayed; the others get no decay.
 * Returns the pre-clip global gradient norm. A NaN gradient makes the norm, the clip coefficient and
 * hence every parameter NaN, exactly as in PyTorch (whose clip_grad_norm_ does not skip non-finite norms).
 */
export function clipAndAdamW(
  params: Float64Array,
  grads: Float64Array,
  m: Float64Array,
  v: Float64Array,
  step: number,
  hyper: OptimConfig,
  decayMask?: DecayMask,
): { gradNorm: number } {
  const n = params.length;
  if (grads.length !== n || m.length !== n || v.length !== n) throw new Error('clipAndAdamW: params, grads, m, v must have equal lengths');
  if (!Number.isInteger(step) || step < 1) throw new Error(`clipAndAdamW: step must be an integer >= 1, got ${step}`);
  if (decayMask && decayMask.length !== Math.ceil(n / 32)) throw new Error(`clipAndAdamW: a decay mask of ${n} parameters has ${Math.ceil(n / 32)} words, got ${decayMask.length}`);
  const { lr, weightDecay, beta1, beta2, eps, clipNorm } = hyper;

  let sumSq = 0;
  for (const g of grads) sumSq += g * g;
  const gradNorm = Math.sqrt(sumSq);
  // Math.min propagates NaN, as torch.clamp does.
  const clipCoef = Math.min(1, clipNorm / (gradNorm + 1e-6));

  const bc1 = 1 - beta1 ** step;
  const sqrtBc2 = Math.sqrt(1 - beta2 ** step);
  const stepSize = lr / bc1;
  for (let i = 0; i < n; i++) {
    const g = grads[i] * clipCoef;
    if (!decayMask || decays(decayMask, i)) params[i] *= 1 - lr * weightDecay;
    m[i] = beta1 * m[i] + (1 - beta1) * g;
    v[i] = beta2 * v[i] + (1 - beta2) * g * g;
    params[i] -= (stepSize * m[i]) / (Math.sqrt(v[i]) / sqrtBc2 + eps);
  }
  return { gradNorm };
}
