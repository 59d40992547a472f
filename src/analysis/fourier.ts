// Discrete Fourier power spectra in float64 for the functional-modes analysis (docs/science.md §3.7): how much of a response
// varies at each frequency of a cyclic variable (1-D), or of the (a, b) grid (2-D).
//
// Conventions, for a real sequence x_0 .. x_{M-1}:
//   X_k = sum_n x_n exp(-2 pi i k n / M), power P_k = |X_k|^2 (no 1/M factor: it cancels in the normalisation).
//   One-sided spectrum: frequencies k = 1..floor(M/2) (DC dropped; k and M - k carry the same power for real x,
//   so each is counted once), power normalised to sum 1. Concentration F = max power, peak = its frequency (the
//   lowest one on ties); a spectrum with no structure sits at the uniform level 1 / floor(M/2).
//   2-D: the same over frequency pairs (k1, k2) of a rows x cols grid, one pair from each {k, -k}, DC dropped.
// A flat input (no power off DC, to 1e-12 in amplitude relative to the input: a constant, up to rounding) has no
// spectrum to normalise: it is reported with all powers 0, F = 0 and no peak, instead of dividing by ~0.
//
// The DFT is the direct O(M^2) sum (M is at most a few hundred here) with twiddles indexed by k n mod M, so every
// angle is one of the M exact table entries; the 2-D transform is done separably (rows, then columns).

/** AC power at or below this fraction of the total (Parseval: M sum x^2) counts as none (amplitude 1e-12). */
const FLAT_RELATIVE_POWER = 1e-24;

export interface Spectrum {
  /** power[k - 1] for frequency k = 1..floor(M/2), summing to 1 (all 0 when flat). */
  power: Float64Array;
  /** F = the largest normalised power (0 when flat). */
  concentration: number;
  /** The frequency with the largest power, the lowest on ties; null when flat. */
  peakFrequency: number | null;
  /** 1 / floor(M/2): every frequency's share when power is spread evenly. */
  uniformLevel: number;
  /** The unnormalised one-sided AC power sum_{k=1}^{floor(M/2)} |X_k|^2. */
  acPower: number;
}

function checkFinite(x: ArrayLike<number>, what: string): void {
  for (let i = 0; i < x.length; i++) {
    if (!Number.isFinite(x[i])) throw new Error(`${what}: element ${i} is ${x[i]}; the spectrum needs finite values`);
  }
}

function checkLength(m: number, what: string): void {
  if (!Number.isInteger(m) || m < 2) throw new RangeError(`${what}: need a length of at least 2 for a frequency above DC, got ${m}`);
}

/** The DFT of x[start + stride * n], n = 0..m-1, into re/im at out, out + outStride, ... */
function dftInto(
  x: ArrayLike<number>, start: number, stride: number, m: number, cos: Float64Array, sin: Float64Array,
  re: Float64Array, im: Float64Array, out: number, outStride: number, xIm?: Float64Array,
): void {
  for (let k = 0; k < m; k++) {
    let sr = 0;
    let si = 0;
    for (let n = 0, t = 0; n < m; n++, t = (t + k) % m) {
      const xr = x[start + stride * n];
      const xi = xIm ? xIm[start + stride * n] : 0;
      // (xr + i xi)(cos t - i sin t)
      sr += xr * cos[t] + xi * sin[t];
      si += xi * cos[t] - xr * sin[t];
    }
    re[out + outStride * k] = sr;
    im[out + outStride * k] = si;
  }
}

function twiddles(m: number): { cos: Float64Array; sin: Float64Array } {
  const cos = new Float64Array(m);
  const sin = new Float64Array(m);
  for (let t = 0; t < m; t++) {
    cos[t] = Math.cos((2 * Math.PI * t) / m);
    sin[t] = Math.sin((2 * Math.PI * t) / m);
  }
  return { cos, sin };
}

/** P_k = |X_k|^2 for k = 0..M-1. */
export function dftPower(x: ArrayLike<number>): Float64Array {
  const m = x.length;
  checkLength(m, 'dftPower');
  checkFinite(x, 'dftPower');
  const { cos, sin } = twiddles(m);
  const re = new Float64Array(m);
  const im = new Float64Array(m);
  dftInto(x, 0, 1, m, cos, sin, re, im, 0, 1);
  return re.map((r, k) => r * r + im[k] * im[k]);
}

/** P[k1 * cols + k2] = |X_{k1,k2}|^2 for the row-major rows x cols grid. */
export function dft2dPower(grid: ArrayLike<number>, rows: number, cols: number): Float64Array {
  checkLength(rows, 'dft2dPower rows');
  checkLength(cols, 'dft2dPower cols');
  if (grid.length !== rows * cols) throw new RangeError(`dft2dPower: a ${rows} x ${cols} grid has ${rows * cols} cells, got ${grid.length}`);
  checkFinite(grid, 'dft2dPower');
  const byRow = { re: new Float64Array(rows * cols), im: new Float64Array(rows * cols) };
  const colTw = twiddles(cols);
  for (let r = 0; r < rows; r++) dftInto(grid, r * cols, 1, cols, colTw.cos, colTw.sin, byRow.re, byRow.im, r * cols, 1);
  const re = new Float64Array(rows * cols);
  const im = new Float64Array(rows * cols);
  const rowTw = twiddles(rows);
  for (let c = 0; c < cols; c++) dftInto(byRow.re, c, cols, rows, rowTw.cos, rowTw.sin, re, im, c, cols, byRow.im);
  return re.map((r, i) => r * r + im[i] * im[i]);
}

/** Normalises one-sided powers, or reports them flat when their sum is negligible against `totalEnergy`. */
function normalise(acPowers: Float64Array, totalEnergy: number): { power: Float64Array; concentration: number; peak: number | null; acPower: number } {
  const acPower = acPowers.reduce((s, v) => s + v, 0);
  if (acPower <= FLAT_RELATIVE_POWER * totalEnergy) return { power: new Float64Array(acPowers.length), concentration: 0, peak: null, acPower };
  const power = acPowers.map((v) => v / acPower);
  let peak = 0;
  for (let i = 1; i < power.length; i++) if (power[i] > power[peak]) peak = i;
  return { power, concentration: power[peak], peak, acPower };
}

/** The normalised one-sided spectrum of x over frequencies 1..floor(M/2) (see the header). */
export function oneSidedSpectrum(x: ArrayLike<number>): Spectrum {
  const full = dftPower(x);
  const half = Math.floor(x.length / 2);
  const { power, concentration, peak, acPower } = normalise(full.slice(1, half + 1), full.reduce((s, v) => s + v, 0));
  return { power, concentration, peakFrequency: peak === null ? null : peak + 1, uniformLevel: 1 / half, acPower };
}

export interface Frequency2d {
  /** Signed frequencies in (-rows/2, rows/2] and (-cols/2, cols/2], shown with k1 > 0, or k1 = 0 and k2 > 0. */
  k1: number;
  k2: number;
  /** Normalised power (the shares of all pairs sum to 1). */
  power: number;
}

export interface Spectrum2d {
  /** The `top` strongest frequency pairs, strongest first. */
  peaks: Frequency2d[];
  /** The largest normalised power (0 when flat). */
  concentration: number;
  /** 1 / (number of frequency pairs): the share of each when power is spread evenly. */
  uniformLevel: number;
  acPower: number;
}

const signed = (k: number, m: number) => (k <= m / 2 ? k : k - m);

/** The normalised 2-D spectrum of a row-major rows x cols grid, one pair per {k, -k}, and its `top` peaks. */
export function spectrum2d(grid: ArrayLike<number>, rows: number, cols: number, top = 5): Spectrum2d {
  const full = dft2dPower(grid, rows, cols);
  const pairs: [number, number][] = [];
  for (let k1 = 0; k1 < rows; k1++) {
    for (let k2 = 0; k2 < cols; k2++) {
      const index = k1 * cols + k2;
      const partner = ((rows - k1) % rows) * cols + ((cols - k2) % cols);
      if (index !== 0 && index <= partner) pairs.push([k1, k2]);
    }
  }
  const { power, concentration, acPower } = normalise(
    Float64Array.from(pairs, ([k1, k2]) => full[k1 * cols + k2]),
    full.reduce((s, v) => s + v, 0),
  );
  const order = power.some((v) => v > 0) ? [...power.keys()].sort((i, j) => power[j] - power[i] || i - j) : [];
  const peaks = order.slice(0, top).map((i) => {
    let k1 = signed(pairs[i][0], rows);
    let k2 = signed(pairs[i][1], cols);
    if (k1 < 0 || (k1 === 0 && k2 < 0)) [k1, k2] = [signed((rows - pairs[i][0]) % rows, rows), signed((cols - pairs[i][1]) % cols, cols)];
    return { k1, k2, power: power[i] };
  });
  return { peaks, concentration, uniformLevel: 1 / pairs.length, acPower };
}
