// Float64 LayerNorm and RMSNorm over the last dimension of a row-major [rows, d] array, with PyTorch semantics
// (biased variance, eps = NORM_EPS inside the square root), and RMSNorm per attention head (QK-norm). The oracle
// for shaders/layernorm.wgsl and a building block of the reference model.
import { NORM_EPS } from '../model/config';

/** y = (x - mean) * rstd * g + b per row; also returns each row's mean and rstd = 1 / sqrt(var + eps). */
export function layerNormForward(x: Float64Array, g: Float64Array, b: Float64Array, rows: number, d: number) {
  const y = new Float64Array(rows * d);
  const mean = new Float64Array(rows);
  const rstd = new Float64Array(rows);
  for (let r = 0; r < rows; r++) {
    const row = x.subarray(r * d, (r + 1) * d);
    const m = row.reduce((s, v) => s + v, 0) / d;
    const variance = row.reduce((s, v) => s + (v - m) * (v - m), 0) / d;
    const rs = 1 / Math.sqrt(variance + NORM_EPS);
    for (let i = 0; i < d; i++) y[r * d + i] = (row[i] - m) * rs * g[i] + b[i];
    mean[r] = m;
    rstd[r] = rs;
  }
  return { y, mean, rstd };
}

/**
 * Gradients of sum(dy * y) with respect to x, g and b, given the forward's mean and rstd:
 *   dx = rstd * (g dy - mean_i(g dy) - xhat * mean_i(g dy xhat)),  dg = sum_r dy xhat,  db = sum_r dy.
 */
export function layerNormBackward(
  dy: Float64Array,
  x: Float64Array,
  g: Float64Array,
  mean: Float64Array,
  rstd: Float64Array,
  rows: number,
  d: number,
) {
  const dx = new Float64Array(rows * d);
  const dg = new Float64Array(d);
  const db = new Float64Array(d);
  const xhat = new Float64Array(d);
  for (let r = 0; r < rows; r++) {
    let meanGdy = 0;
    let meanGdyXhat = 0;
    for (let i = 0; i < d; i++) {
      xhat[i] = (x[r * d + i] - mean[r]) * rstd[r];
      const gdy = g[i] * dy[r * d + i];
      meanGdy += gdy / d;
      meanGdyXhat += (gdy * xhat[i]) / d;
      dg[i] += dy[r * d + i] * xhat[i];
      db[i] += dy[r * d + i];
    }
    for (let i = 0; i < d; i++) {
      dx[r * d + i] = rstd[r] * (g[i] * dy[r * d + i] - meanGdy - xhat[i] * meanGdyXhat);
    }
  }
  return { dx, dg, db };
}

/** RMSNorm: y = x * rstd * g per row, rstd = 1 / sqrt(mean(x^2) + eps); also returns each row's rstd. */
export function rmsNormForward(x: Float64Array, g: Float64Array, rows: number, d: number) {
  const y = new Float64Array(rows * d);
  const rstd = new Float64Array(rows);
  for (let r = 0; r < rows; r++) {
    const row = x.subarray(r * d, (r + 1) * d);
    const rs = 1 / Math.sqrt(row.reduce((s, v) => s + v * v, 0) / d + NORM_EPS);
    for (let i = 0; i < d; i++) y[r * d + i] = row[i] * rs * g[i];
    rstd[r] = rs;
  }
  return { y, rstd };
}

/**
 * Gradients of sum(dy * y) with respect to x and g, given the forward's rstd (xhat = x * rstd):
 *   dx = rstd * (g dy - xhat * mean_i(g dy xhat)),  dg = sum_r dy xhat.
 */
export function rmsNormBackward(dy: Float64Array, x: Float64Array, g: Float64Array, rstd: Float64Array, rows: number, d: number) {
  const dx = new Float64Array(rows * d);
  const dg = new Float64Array(d);
  for (let r = 0; r < rows; r++) {
    let meanGdyXhat = 0;
    for (let i = 0; i < d; i++) {
      const xhat = x[r * d + i] * rstd[r];
      meanGdyXhat += (g[i] * dy[r * d + i] * xhat) / d;
      dg[i] += dy[r * d + i] * xhat;
    }
    for (let i = 0; i < d; i++) dx[r * d + i] = rstd[r] * (g[i] * dy[r * d + i] - x[r * d + i] * rstd[r] * meanGdyXhat);
  }
  return { dx, dg };
}

/**
 * Where the heads of one of Q or K lie: columns [column + h * headDim, column + (h + 1) * headDim) of every row of
 * a row-major [rows, stride] array (a fused qkv, a fused kv, or q alone).
 */
export interface HeadColumns {
  rows: number;
  stride: number;
  column: number;
  nHeads: number;
  headDim: number;
}

/** The heads as a [rows * nHeads, headDim] array (row r, head h at row r * nHeads + h). */
function gatherHeads(data: Float64Array, c: HeadColumns): Float64Array {
  const out = new Float64Array(c.rows * c.nHeads * c.headDim);
  for (let r = 0; r < c.rows; r++) out.set(data.subarray(r * c.stride + c.column, r * c.stride + c.column + c.nHeads * c.headDim), r * c.nHeads * c.headDim);
  return out;
}

/** Writes a gatherHeads array back into the heads' columns of `into`. */
function scatterHeads(heads: Float64Array, into: Float64Array, c: HeadColumns): void {
  for (let r = 0; r < c.rows; r++) into.set(heads.subarray(r * c.nHeads * c.headDim, (r + 1) * c.nHeads * c.headDim), r * c.stride + c.column);
}

/**
 * QK-norm of one of Q or K: RMSNorm of every head's columns with the gain g [headDim] shared by the heads. Returns a
 * copy of `data` with those columns normalised, and rstd [rows * nHeads] (row r, head h at r * nHeads + h).
 */
export function headRmsNormForward(data: Float64Array, g: Float64Array, c: HeadColumns) {
  const { y, rstd } = rmsNormForward(gatherHeads(data, c), g, c.rows * c.nHeads, c.headDim);
  const out = Float64Array.from(data);
  scatterHeads(y, out, c);
  return { out, rstd };
}

/**
 * Backward of headRmsNormForward: `dOut` is the gradient of its output (laid out like `data`); returns a copy with
 * the normalised columns' gradients taken back through the norm (the other columns pass through), and dg.
 */
export function headRmsNormBackward(dOut: Float64Array, data: Float64Array, g: Float64Array, rstd: Float64Array, c: HeadColumns) {
  const { dx, dg } = rmsNormBackward(gatherHeads(dOut, c), gatherHeads(data, c), g, rstd, c.rows * c.nHeads, c.headDim);
  const dData = Float64Array.from(dOut);
  scatterHeads(dx, dData, c);
  return { dData, dg };
}
