// The gap flow equation of the spectral edge (docs/science.md §2; Thesis, Lifecycle eq. 1): the predicted rate of change per
// step of the gap g = d_{k*} - d_{k*+1} between the window's singular values at the edge, as three terms,
//
//   dg/dt ~ -eta (h_{k*} - h_{k*+1}) dbar           curvature asymmetry
//           - eta (hbar + omega) g                  damping
//           + eta W (G_{k*}^2 / d_{k*} - G_{k*+1}^2 / d_{k*+1})   gradient driving
//
// with d_j = sigma_j, h_j = v_j^T H v_j the curvature along edge direction j and G_j = <v_j, grad L> (both from
// src/spectral/hessian.ts: probeModes), dbar and hbar the means over the two modes, omega the weight decay, eta the
// learning rate and W the window size; and the observed rate from two consecutive windows' gaps, to compare with.
// Pure float64 arithmetic; bad input is an error, never a NaN.
import { GapFlowTerms } from '../formats/spectral';

export interface GapFlowInput {
  /** The window's singular values, descending: d_j = sigma[j - 1]. */
  sigma: readonly number[];
  /** The edge position, 1-based: the gap lies between modes kStar and kStar + 1 (1 <= kStar < sigma.length). */
  kStar: number;
  /** h_j = v_j^T H v_j for modes j = 1, 2, ... (index j - 1), at least kStar + 1 of them. */
  curvature: readonly number[];
  /** G_j = <v_j, grad L>, indexed as curvature. */
  gradientProjection: readonly number[];
  lr: number;
  weightDecay: number;
  /** Window size W (number of deltas). */
  window: number;
}

function finite(name: string, x: number | undefined): number {
  if (x === undefined || !Number.isFinite(x)) throw new Error(`gap flow: ${name} must be a finite number, got ${x}`);
  return x;
}

export function gapFlowTerms(input: GapFlowInput): GapFlowTerms {
  const { sigma, kStar, curvature, gradientProjection } = input;
  if (!Number.isInteger(kStar) || kStar < 1 || kStar >= sigma.length) {
    throw new Error(`gap flow: kStar must be an integer in [1, ${sigma.length - 1}] for ${sigma.length} singular values, got ${kStar}`);
  }
  for (const [name, values] of [['curvature', curvature], ['gradientProjection', gradientProjection]] as const) {
    if (values.length < kStar + 1) throw new Error(`gap flow: ${name} has ${values.length} modes, kStar = ${kStar} needs ${kStar + 1}`);
  }
  const eta = finite('lr', input.lr);
  const omega = finite('weightDecay', input.weightDecay);
  const W = input.window;
  if (!Number.isInteger(W) || W < 1) throw new Error(`gap flow: window must be a positive integer, got ${W}`);
  const [d1, d2] = [finite(`sigma_${kStar}`, sigma[kStar - 1]), finite(`sigma_${kStar + 1}`, sigma[kStar])];
  if (!(d2 > 0)) throw new Error(`gap flow: sigma_${kStar + 1} = ${d2}; the gradient-driving term divides by it, so it must be positive`);
  const [h1, h2] = [finite(`curvature_${kStar}`, curvature[kStar - 1]), finite(`curvature_${kStar + 1}`, curvature[kStar])];
  const [G1, G2] = [finite(`gradientProjection_${kStar}`, gradientProjection[kStar - 1]), finite(`gradientProjection_${kStar + 1}`, gradientProjection[kStar])];

  const gap = d1 - d2;
  const curvatureAsymmetry = -eta * (h1 - h2) * ((d1 + d2) / 2);
  const damping = -eta * ((h1 + h2) / 2 + omega) * gap;
  const gradientDriving = eta * W * ((G1 * G1) / d1 - (G2 * G2) / d2);
  return { gap, curvatureAsymmetry, damping, gradientDriving, predicted: curvatureAsymmetry + damping + gradientDriving };
}

/** The observed dg/dt per step between two windows `stepsBetween` steps apart. */
export function observedGapRate(gPrev: number, gNow: number, stepsBetween: number): number {
  if (!(stepsBetween > 0 && Number.isFinite(stepsBetween))) throw new Error(`gap flow: stepsBetween must be positive and finite, got ${stepsBetween}`);
  return (finite('gNow', gNow) - finite('gPrev', gPrev)) / stepsBetween;
}
