// The MLP probe of docs/science.md §3.6: one hidden layer of 64 ReLU units trained with Adam on squared error, early-stopped on
// a held-out 15% of its training rows. Written in float64 on the CPU: a probe is a few thousand rows of at most a
// few hundred features, far below what would pay for GPU dispatches and readbacks, and the CPU gives float64
// arithmetic in a fixed order, so a seed fixes the result exactly (on a given JS engine). No JS MLP library is
// small and maintained enough to be worth a dependency.
//
// Defaults follow scikit-learn's MLPRegressor(hidden_layer_sizes=(64,), early_stopping=True,
// validation_fraction=0.15): Glorot-uniform initialisation (bound sqrt(6 / (fan_in + fan_out)), biases too),
// Adam (lr 1e-3, betas 0.9 / 0.999, eps 1e-8), L2 penalty 1e-4 on the weights, stop after 10 epochs without the
// validation loss (mean squared error) improving by 1e-4, and keep the weights of the best epoch. Three
// differences: minibatches of 64 rows (drawn without replacement each epoch) instead of 200, because with a few
// hundred rows an epoch of 200-row batches is two Adam steps, too few to beat the tolerance, and training stops
// on the first plateau (measured: R^2 0.15 instead of 0.94 on a 600-row test problem); at most 500 epochs
// instead of 200; and the targets are standardised (mean and standard deviation of the rows the MLP fits), so
// the tolerance and learning rate mean the same whatever the targets' scale, with predictions mapped back.
// Inputs are expected standardised already.
import { Rng } from '../util/random';

export const MLP_PROBE_DEFAULTS = {
  hidden: 64,
  validationFraction: 0.15,
  batchSize: 64,
  learningRate: 1e-3,
  beta1: 0.9,
  beta2: 0.999,
  eps: 1e-8,
  l2: 1e-4,
  maxEpochs: 500,
  patience: 10,
  tolerance: 1e-4,
} as const;

export type MlpProbeOptions = typeof MLP_PROBE_DEFAULTS;

/** Row-major data: `rows` rows of `cols` values. */
export interface Rows {
  values: Float64Array;
  rows: number;
  cols: number;
}

export interface MlpProbe {
  /** Predictions for each row of `x` (`x.cols` must be the training input's), [x.rows * targetDim]. */
  predict(x: Rows): Float64Array;
  /** Epochs run before early stopping (or the limit). */
  epochs: number;
  /** The epoch whose weights were kept (1-based). */
  bestEpoch: number;
}

/** All weights in one flat buffer so that Adam, the L2 penalty and "keep the best" are each one loop. */
class Layout {
  readonly w1 = 0;
  readonly b1: number;
  readonly w2: number;
  readonly b2: number;
  readonly size: number;
  constructor(
    readonly inputs: number,
    readonly hidden: number,
    readonly outputs: number,
  ) {
    this.b1 = inputs * hidden;
    this.w2 = this.b1 + hidden;
    this.b2 = this.w2 + hidden * outputs;
    this.size = this.b2 + outputs;
  }

  /** Whether flat index i is a weight (penalised) rather than a bias. */
  isWeight(i: number): boolean {
    return i < this.b1 || (i >= this.w2 && i < this.b2);
  }
}

function glorotInit(layout: Layout, rng: Rng): Float64Array {
  const theta = new Float64Array(layout.size);
  const fill = (from: number, to: number, fanIn: number, fanOut: number) => {
    const bound = Math.sqrt(6 / (fanIn + fanOut));
    for (let i = from; i < to; i++) theta[i] = (2 * rng.uniform() - 1) * bound;
  };
  fill(layout.w1, layout.w2, layout.inputs, layout.hidden);
  fill(layout.w2, layout.size, layout.hidden, layout.outputs);
  return theta;
}

/**
 * Forward pass of the rows `index[from..to)` of x: hidden activations into `hidden` [count x H] and outputs
 * into `out` [count x T]. W1 is [D x H] and W2 [H x T], row-major.
 */
function forward(layout: Layout, theta: Float64Array, x: Rows, index: readonly number[], from: number, to: number, hidden: Float64Array, out: Float64Array): void {
  const { inputs: D, hidden: H, outputs: T } = layout;
  for (let r = 0; r < to - from; r++) {
    const xo = index[from + r] * D;
    const ho = r * H;
    for (let h = 0; h < H; h++) hidden[ho + h] = theta[layout.b1 + h];
    for (let k = 0; k < D; k++) {
      const xv = x.values[xo + k];
      const wo = layout.w1 + k * H;
      for (let h = 0; h < H; h++) hidden[ho + h] += xv * theta[wo + h];
    }
    for (let h = 0; h < H; h++) hidden[ho + h] = Math.max(0, hidden[ho + h]);
    for (let t = 0; t < T; t++) {
      let s = theta[layout.b2 + t];
      for (let h = 0; h < H; h++) s += hidden[ho + h] * theta[layout.w2 + h * T + t];
      out[r * T + t] = s;
    }
  }
}

/** Mean over the rows of sum over targets of (out - y)^2, for every row of x. */
function meanSquaredError(layout: Layout, theta: Float64Array, x: Rows, y: Float64Array, index: readonly number[]): number {
  const T = layout.outputs;
  const chunk = 256;
  const hidden = new Float64Array(chunk * layout.hidden);
  const out = new Float64Array(chunk * T);
  let sum = 0;
  for (let from = 0; from < index.length; from += chunk) {
    const to = Math.min(index.length, from + chunk);
    forward(layout, theta, x, index, from, to, hidden, out);
    for (let r = 0; r < to - from; r++) {
      for (let t = 0; t < T; t++) sum += (out[r * T + t] - y[index[from + r] * T + t]) ** 2;
    }
  }
  return sum / index.length;
}

/**
 * Fits the MLP to x [rows x cols] and y [rows x targetDim] (both float64, row-major), holding out
 * `validationFraction` of the rows (seeded) for early stopping. Deterministic given `seed`.
 */
export function fitMlpProbe(x: Rows, y: Float64Array, seed: number, options: Partial<MlpProbeOptions> = {}): MlpProbe {
  const o = { ...MLP_PROBE_DEFAULTS, ...options };
  const n = x.rows;
  const T = y.length / n;
  if (!Number.isInteger(T) || T < 1) throw new Error(`MLP probe: ${y.length} target values for ${n} rows`);
  const nValidation = Math.round(o.validationFraction * n);
  const nFit = n - nValidation;
  if (nValidation < 1 || nFit < 2) throw new Error(`MLP probe: ${n} rows leave ${nFit} to fit and ${nValidation} to validate; it needs at least 2 and 1`);

  const order = Rng.derive(seed, 'mlp-probe.validation').shuffle(Array.from({ length: n }, (_, i) => i));
  const fitRows = order.slice(0, nFit);
  const validationRows = order.slice(nFit);

  // Targets standardised on the fitted rows (a constant column keeps scale 1).
  const mean = new Float64Array(T);
  const scale = new Float64Array(T);
  for (const r of fitRows) for (let t = 0; t < T; t++) mean[t] += y[r * T + t] / nFit;
  for (const r of fitRows) for (let t = 0; t < T; t++) scale[t] += (y[r * T + t] - mean[t]) ** 2 / nFit;
  for (let t = 0; t < T; t++) scale[t] = scale[t] > 0 ? Math.sqrt(scale[t]) : 1;
  const ys = y.map((v, i) => (v - mean[i % T]) / scale[i % T]);

  const layout = new Layout(x.cols, o.hidden, T);
  const H = o.hidden;
  const theta = glorotInit(layout, Rng.derive(seed, 'mlp-probe.init'));
  const grad = new Float64Array(layout.size);
  const m = new Float64Array(layout.size);
  const v = new Float64Array(layout.size);
  const batchSize = Math.min(o.batchSize, nFit);
  const hidden = new Float64Array(batchSize * H);
  const out = new Float64Array(batchSize * T);
  const dOut = new Float64Array(batchSize * T);
  const dHidden = new Float64Array(batchSize * H);
  const batches = Rng.derive(seed, 'mlp-probe.batches');

  let best = { loss: Infinity, epoch: 0, theta: theta.slice() };
  let adamStep = 0;
  let epoch = 0;
  while (epoch < o.maxEpochs && epoch - best.epoch < o.patience) {
    epoch += 1;
    batches.shuffle(fitRows);
    for (let from = 0; from < nFit; from += batchSize) {
      const to = Math.min(nFit, from + batchSize);
      const B = to - from;
      forward(layout, theta, x, fitRows, from, to, hidden, out);
      // Loss per batch: sum over rows and targets of (out - y)^2 / (2B) + l2 / (2B) * ||W||^2.
      for (let r = 0; r < B; r++) for (let t = 0; t < T; t++) dOut[r * T + t] = (out[r * T + t] - ys[fitRows[from + r] * T + t]) / B;
      grad.fill(0);
      for (let r = 0; r < B; r++) {
        for (let h = 0; h < H; h++) {
          const a = hidden[r * H + h];
          let g = 0;
          for (let t = 0; t < T; t++) {
            grad[layout.w2 + h * T + t] += a * dOut[r * T + t];
            g += theta[layout.w2 + h * T + t] * dOut[r * T + t];
          }
          dHidden[r * H + h] = a > 0 ? g : 0;
        }
        for (let t = 0; t < T; t++) grad[layout.b2 + t] += dOut[r * T + t];
        for (let h = 0; h < H; h++) grad[layout.b1 + h] += dHidden[r * H + h];
        const xo = fitRows[from + r] * x.cols;
        for (let k = 0; k < x.cols; k++) {
          const xv = x.values[xo + k];
          const wo = layout.w1 + k * H;
          for (let h = 0; h < H; h++) grad[wo + h] += xv * dHidden[r * H + h];
        }
      }
      adamStep += 1;
      const lr = (o.learningRate * Math.sqrt(1 - o.beta2 ** adamStep)) / (1 - o.beta1 ** adamStep);
      for (let i = 0; i < layout.size; i++) {
        const g = grad[i] + (layout.isWeight(i) ? (o.l2 / B) * theta[i] : 0);
        m[i] = o.beta1 * m[i] + (1 - o.beta1) * g;
        v[i] = o.beta2 * v[i] + (1 - o.beta2) * g * g;
        theta[i] -= (lr * m[i]) / (Math.sqrt(v[i]) + o.eps);
      }
    }
    const loss = meanSquaredError(layout, theta, x, ys, validationRows);
    if (!Number.isFinite(loss)) throw new Error(`MLP probe: the validation loss is ${loss} at epoch ${epoch}`);
    if (loss < best.loss - o.tolerance) best = { loss, epoch, theta: theta.slice() };
  }

  const kept = best.theta;
  return {
    epochs: epoch,
    bestEpoch: best.epoch,
    predict(input: Rows): Float64Array {
      if (input.cols !== x.cols) throw new Error(`MLP probe: fitted on ${x.cols} features, asked to predict from ${input.cols}`);
      const all = Array.from({ length: input.rows }, (_, i) => i);
      const hiddenAll = new Float64Array(input.rows * H);
      const pred = new Float64Array(input.rows * T);
      forward(layout, kept, input, all, 0, input.rows, hiddenAll, pred);
      return pred.map((p, i) => p * scale[i % T] + mean[i % T]);
    },
  };
}
