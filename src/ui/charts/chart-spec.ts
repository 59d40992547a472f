// What a time-series chart shows, as data: its lines (a column of a series table each), shaded bands between two
// columns (a control's range, a noise level), a strip of categories along the x axis (a verdict per window), axis
// scales and the text it shows before it has anything to draw. One component (TimeSeriesChart) draws every spec.
import { SERIES_STYLES } from './palette';

export interface LineSpec {
  /** The column in the chart's series table. */
  key: string;
  label: string;
  color: string;
  dash: readonly number[];
}

/** A shaded area between two columns (drawn under the lines, in the legend as a swatch). */
export interface BandSpec {
  lower: string;
  upper: string;
  label: string;
  color: string;
}

/** One category of a strip: its label (in the legend) and colour. */
export interface StripCategory {
  label: string;
  color: string;
}

/** A row of coloured segments just above the x axis: column `key` holds each row's category (an index into `categories`). */
export interface StripSpec {
  key: string;
  label: string;
  categories: readonly StripCategory[];
}

export interface ChartSpec {
  id: string;
  title: string;
  /** One sentence on what the chart shows and how to read it. */
  description: string;
  /** Which series table the lines come from. */
  source: 'metrics' | 'spectral' | 'heads' | 'causal';
  lines: LineSpec[];
  bands?: BandSpec[];
  strip?: StripSpec;
  /** The x axis when it is not the optimiser step (no log-step option then): its label. */
  xLabel?: string;
  yScale: 'linear' | 'log';
  /** A fixed y range (accuracies, fractions, angles); otherwise the data's extent. */
  yDomain?: [number, number];
  yLabel: string;
  /** Shown instead of axes until the first point arrives. */
  emptyText: string;
  /** Shown instead of axes when there are rows but none of the lines has a value to plot in them. */
  noValuesText?: string;
  /**
   * Lines join their points across missing values (NaN) instead of breaking there: for overlays whose x column is
   * the union of several runs' steps, where each run has values only at its own.
   */
  joinGaps?: boolean;
}

/** Lines styled in palette order. */
export function lines(...defs: [key: string, label: string][]): LineSpec[] {
  return defs.map(([key, label], i) => ({ key, label, ...SERIES_STYLES[i % SERIES_STYLES.length] }));
}
