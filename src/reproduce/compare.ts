// The verdict of a reproduction row: the lab's values over seeds (mean +- sample sd) set against a published value
// with its stated spread. Pure float64, no GPU: the report and its tests share it.
//
//   range [lo, hi]   inside when the lab's mean lies in it; else the miss is the distance to the nearer bound.
//   mean +- sd       inside when the lab's mean lies within the paper's sd of the paper's mean; else the miss is the
//                    distance beyond that band, also said in the paper's sds.
//   below max        inside when every seed's value is below max (a bound the paper states for all its trials).
//   point value      the paper states no spread: inside when the value lies within the lab's own mean +- sd over
//                    seeds (so a single seed can only match it exactly); else the miss and the ratio lab / paper.
// A row with no lab value (not measured, or not applicable to every unit) gets 'not-measured', never a NaN.

/** A published value and the spread the paper states for it. */
export type Spread =
  | { kind: 'range'; lo: number; hi: number }
  | { kind: 'mean-sd'; mean: number; sd: number }
  | { kind: 'below'; max: number }
  | { kind: 'point'; value: number };

export interface Summary {
  /** The values it summarises, in unit order (non-finite values are refused, never averaged). */
  values: number[];
  n: number;
  mean: number | null;
  /** Sample standard deviation (n - 1); 0 for one value; null for none. */
  sd: number | null;
}

export type VerdictStatus = 'inside' | 'outside' | 'not-measured';

export interface RowVerdict {
  status: VerdictStatus;
  /** outside: how far the lab's mean lies from the published value or band (absolute, >= 0). */
  miss: number | null;
  /** outside: lab mean / the published value or the nearer bound (null when that is 0). */
  ratio: number | null;
  /** One line, e.g. "inside 600-1400" or "misses by 400 (1.5x the upper bound 1400)". */
  text: string;
}

export function summarise(values: readonly number[]): Summary {
  const bad = values.filter((v) => !Number.isFinite(v));
  if (bad.length > 0) throw new RangeError(`a reproduction value is not finite: ${bad.join(', ')}`);
  const n = values.length;
  if (n === 0) return { values: [], n: 0, mean: null, sd: null };
  const mean = values.reduce((s, v) => s + v, 0) / n;
  const sd = n < 2 ? 0 : Math.sqrt(values.reduce((s, v) => s + (v - mean) ** 2, 0) / (n - 1));
  return { values: [...values], n, mean, sd };
}

/** A number for a table: 3 significant digits, scientific below 1e-3 or from 1e5. */
export function formatValue(x: number): string {
  if (x === 0) return '0';
  const a = Math.abs(x);
  if (a < 1e-3 || a >= 1e5) return x.toExponential(1);
  if (Number.isInteger(x)) return String(x);
  return String(Number(x.toPrecision(3)));
}

export function formatSpread(s: Spread): string {
  switch (s.kind) {
    case 'range':
      return s.lo === s.hi ? formatValue(s.lo) : `${formatValue(s.lo)}–${formatValue(s.hi)}`;
    case 'mean-sd':
      return `${formatValue(s.mean)} ± ${formatValue(s.sd)}`;
    case 'below':
      return `< ${formatValue(s.max)}`;
    case 'point':
      return formatValue(s.value);
  }
}

/** "0.58 ± 0.09 (n 3)", "0.41 (n 1)", or "–" with no value. */
export function formatSummary(s: Summary): string {
  if (s.mean === null) return '–';
  return s.n > 1 ? `${formatValue(s.mean)} ± ${formatValue(s.sd!)} (n ${s.n})` : `${formatValue(s.mean)} (n 1)`;
}

const ratioOf = (x: number, ref: number) => (ref === 0 ? null : x / ref);
const ratioText = (r: number | null, what: string) => (r === null ? '' : ` (${formatValue(r)}x ${what})`);

/** The verdict of the lab's summary against a published spread. */
export function compare(published: Spread, lab: Summary): RowVerdict {
  if (lab.mean === null || lab.sd === null) return { status: 'not-measured', miss: null, ratio: null, text: 'not measured' };
  const { mean, sd } = lab;
  const inside = (text: string): RowVerdict => ({ status: 'inside', miss: null, ratio: null, text });
  const outside = (miss: number, ratio: number | null, text: string): RowVerdict => ({ status: 'outside', miss, ratio, text });
  switch (published.kind) {
    case 'range': {
      const { lo, hi } = published;
      if (mean >= lo && mean <= hi) return inside(`inside ${formatSpread(published)}`);
      const bound = mean < lo ? lo : hi;
      const r = ratioOf(mean, bound);
      return outside(Math.abs(mean - bound), r, `misses by ${formatValue(Math.abs(mean - bound))}${ratioText(r, `the ${mean < lo ? 'lower' : 'upper'} bound`)}`);
    }
    case 'mean-sd': {
      const off = Math.abs(mean - published.mean);
      if (off <= published.sd) return inside(`inside ${formatSpread(published)}`);
      const miss = off - published.sd;
      const sds = published.sd > 0 ? ` = ${formatValue(off / published.sd)} sd from the mean` : '';
      return outside(miss, ratioOf(mean, published.mean), `misses the band by ${formatValue(miss)}${sds}`);
    }
    case 'below': {
      const worst = Math.max(...lab.values);
      if (worst < published.max) return inside(`every seed below ${formatValue(published.max)}`);
      const r = ratioOf(worst, published.max);
      return outside(worst - published.max, r, `largest ${formatValue(worst)} is not below ${formatValue(published.max)}${ratioText(r, 'the bound')}`);
    }
    case 'point': {
      const off = Math.abs(mean - published.value);
      if (off <= sd) return inside(lab.n > 1 ? 'within the lab’s mean ± sd' : 'equal');
      const r = ratioOf(mean, published.value);
      return outside(off, r, `differs by ${formatValue(off)}${ratioText(r, 'the paper')}${lab.n < 2 ? '; one seed, no spread' : ''}`);
    }
  }
}
