// Everything a chart draws, computed once per redraw and shared by the screen (SVG axes + canvas lines), the SVG
// export and the 2x PNG export: the figure's size and margins, d3 scales fitted to the data (and to the markers,
// so a change made after the latest evaluation is already visible), each line's min/max-per-pixel polyline in
// figure pixels, and the markers' positions with their labels and badges in a band above the plot (where no data
// line can cross them, on screen or in an export). Pure: no DOM.
import { scaleLinear, scaleLog, type ScaleContinuousNumeric } from 'd3';
import type { ChartSpec, LineSpec } from './chart-spec';
import { minMaxPolyline } from './downsample';

export interface ChartData {
  length: number;
  /** Steps. */
  x: Float64Array;
  y(key: string): Float64Array;
  /**
   * The steps the run's evaluations span (first, latest): charts whose own points start later (the spectral records,
   * from the first full window on) take the same x axis as the training charts, so they line up.
   */
  span?: readonly [number, number];
}

/** Run events (hyperparameter changes, the grok step, divergences) and the classroom's key moments (drawn as callouts). */
export type MarkerKind = 'hyper' | 'grok' | 'divergence' | 'memorisation' | 'grokking' | 'decay-driven';

export interface Marker {
  step: number;
  label: string;
  kind: MarkerKind;
}

/** The markers drawn as callouts (a labelled badge above the plot, over its line): the key moments of a run. */
export const CALLOUT_KINDS: readonly MarkerKind[] = ['memorisation', 'grokking', 'decay-driven'];
export const CALLOUT_FONT_SIZE = 11;
export const CALLOUT_HEIGHT = 17;
const CALLOUT_GAP = 3;

/** A callout's badge, laid out in the band between the legend and the plot. */
export interface Callout {
  marker: Marker;
  px: number;
  /** The badge's left edge, top and width. */
  x: number;
  y: number;
  width: number;
}

/** Bold text runs wider than textWidth's average. */
const calloutWidth = (label: string) => textWidth(label, CALLOUT_FONT_SIZE) * 1.15 + 14;

/** The other markers' labels (hyperparameter changes, the grok step, divergences): bold 10 px text, one row each. */
export const MARKER_LABEL_FONT_SIZE = 10;
export const MARKER_LABEL_HEIGHT = 13;
const markerLabelWidth = (label: string) => textWidth(label, MARKER_LABEL_FONT_SIZE) * 1.1 + 6;

/**
 * Boxes of `widthOf(label)` at the markers' x positions, each starting at its line (or ending there, near the right
 * edge), flowed into as few rows of `rowHeight` as keep them from overlapping. Returns the rows used (0: none).
 */
function layoutBadges(markers: readonly { marker: Marker; px: number }[], width: number, top: number, widthOf: (label: string) => number, rowHeight: number): { items: Callout[]; rows: number } {
  const rowEnds: number[] = [];
  const items = [...markers]
    .sort((a, b) => a.px - b.px)
    .map(({ marker, px }) => {
      const w = widthOf(marker.label);
      const x = px + w <= width - LEGEND_EDGE_PX ? px : Math.max(LEGEND_EDGE_PX, px - w);
      let row = rowEnds.findIndex((end) => end + 4 <= x);
      if (row < 0) row = rowEnds.push(0) - 1;
      rowEnds[row] = x + w;
      return { marker, px, x, y: top + row * rowHeight, width: w };
    });
  return { items, rows: rowEnds.length };
}

/** Badges for the callouts (the key moments), flowed into rows above the plot. */
export const layoutCallouts = (callouts: readonly { marker: Marker; px: number }[], width: number, top: number) =>
  layoutBadges(callouts, width, top, calloutWidth, CALLOUT_HEIGHT + CALLOUT_GAP);

/** Labels of the other markers, flowed into rows above the plot (y: the row's top). */
export const layoutMarkerLabels = (markers: readonly { marker: Marker; px: number }[], width: number, top: number) =>
  layoutBadges(markers, width, top, markerLabelWidth, MARKER_LABEL_HEIGHT);

export interface PlotOptions {
  width: number;
  height: number;
  logX: boolean;
  /** Exports: a title drawn ahead of the legend. */
  title?: string;
}

/** Points closer than this (on average) are drawn as a line only. */
const DOT_SPACING_PX = 12;

/** Margins around the plotting area; the top one grows with the legend's rows. */
export const MARGIN = { right: 20, bottom: 38, left: 62 } as const;

export const FONT_SIZE = 11;
export const TITLE_FONT_SIZE = 13;
const LEGEND_ROW_PX = 16;
const LEGEND_EDGE_PX = 8;
/** A legend entry: a 22 px line sample, a gap, the label. */
export const LEGEND_SAMPLE_PX = 22;

/** Approximate text width, for laying out the legend (an exported SVG has no layout engine to ask). */
export const textWidth = (text: string, size = FONT_SIZE) => text.length * size * 0.58;

export interface LegendItem {
  /** The title (exports), or one line's entry. */
  line: LineSpec | null;
  text: string;
  /** The item's left edge and text baseline. */
  x: number;
  y: number;
}

/** Legend entries (after the title, if any) flowed left to right into as many rows as the width needs. */
export function layoutLegend(lines: readonly LineSpec[], width: number, title?: string): { items: LegendItem[]; rows: number } {
  const entries = [
    ...(title ? [{ line: null, text: title, w: textWidth(title, TITLE_FONT_SIZE) + 18 }] : []),
    ...lines.map((line) => ({ line, text: line.label, w: LEGEND_SAMPLE_PX + 5 + textWidth(line.label) + 14 })),
  ];
  const items: LegendItem[] = [];
  let x = LEGEND_EDGE_PX;
  let row = 0;
  for (const e of entries) {
    if (x > LEGEND_EDGE_PX && x + e.w > width - LEGEND_EDGE_PX) {
      row += 1;
      x = LEGEND_EDGE_PX;
    }
    items.push({ line: e.line, text: e.text, x, y: 13 + row * LEGEND_ROW_PX });
    x += e.w;
  }
  return { items, rows: row + 1 };
}

export interface PlotModel {
  width: number;
  height: number;
  /** The plotting area, in figure pixels. */
  inner: { left: number; top: number; width: number; height: number };
  x: ScaleContinuousNumeric<number, number>;
  y: ScaleContinuousNumeric<number, number>;
  logX: boolean;
  logY: boolean;
  lines: { spec: LineSpec; polyline: Float64Array }[];
  legend: LegendItem[];
  /** Few points for the width: each is drawn as a dot too (a single evaluation is visible at all). */
  dots: boolean;
  markers: { marker: Marker; px: number }[];
  /** The markers of CALLOUT_KINDS (also in `markers`), with their badges. */
  callouts: Callout[];
  /** The other markers (also in `markers`), with their labels' boxes above the plot. */
  labels: Callout[];
}

/** [min, max] of the finite values (positive only, for a log axis) of some arrays; null when there are none. */
export function extent(arrays: readonly ArrayLike<number>[], positiveOnly: boolean): [number, number] | null {
  let lo = Infinity;
  let hi = -Infinity;
  for (const a of arrays) {
    for (let i = 0; i < a.length; i++) {
      const v = a[i];
      if (!Number.isFinite(v) || (positiveOnly && v <= 0)) continue;
      if (v < lo) lo = v;
      if (v > hi) hi = v;
    }
  }
  return lo <= hi ? [lo, hi] : null;
}

/** Widens a one-value range so a single point sits mid-axis. */
function padded([lo, hi]: [number, number], log: boolean): [number, number] {
  if (lo < hi) return [lo, hi];
  if (log) return [lo / 2, hi * 2];
  const pad = lo === 0 ? 1 : Math.abs(lo) * 0.1;
  return [lo - pad, hi + pad];
}

const guard = (scale: ScaleContinuousNumeric<number, number>, log: boolean) => (v: number) => (log && !(v > 0) ? NaN : scale(v));

/** A line through the finite points only (their gaps joined). */
function joined(xs: Float64Array, ys: Float64Array, toPx: (v: number) => number, toPy: (v: number) => number): Float64Array {
  const keep = Array.from(ys, (_, i) => i).filter((i) => Number.isFinite(ys[i]));
  return minMaxPolyline(Float64Array.from(keep, (i) => xs[i]), Float64Array.from(keep, (i) => ys[i]), toPx, toPy);
}

/** The plot of `data` as `spec` describes it; null when no line has a plottable point (the chart shows its empty text). */
export function buildPlotModel(spec: ChartSpec, data: ChartData, markers: readonly Marker[], opts: PlotOptions): PlotModel | null {
  const logY = spec.yScale === 'log';
  const ys = spec.lines.map((l) => data.y(l.key));
  const yRange = spec.yDomain ?? extent(ys, logY);
  const xRange = extent([data.x, markers.map((m) => m.step), data.span ?? []], opts.logX);
  if (data.length === 0 || !extent(ys, logY) || !yRange || !xRange) return null;

  const legend = layoutLegend(spec.lines, opts.width, opts.title);
  const legendBottom = 14 + legend.rows * LEGEND_ROW_PX;
  // The x scale does not depend on the top margin: place the markers first, then make room for the callouts' badges.
  const innerWidth = Math.max(10, opts.width - MARGIN.left - MARGIN.right);
  const x = (opts.logX ? scaleLog() : scaleLinear()).domain(padded(xRange, opts.logX)).range([MARGIN.left, MARGIN.left + innerWidth]);
  if (!opts.logX) x.nice();
  const toPx = guard(x, opts.logX);
  const placed = markers.flatMap((marker) => {
    const px = toPx(marker.step);
    return Number.isFinite(px) ? [{ marker, px }] : [];
  });
  const callouts = layoutCallouts(placed.filter((m) => CALLOUT_KINDS.includes(m.marker.kind)), opts.width, legendBottom - 2);
  const labelsTop = legendBottom + (callouts.rows > 0 ? callouts.rows * (CALLOUT_HEIGHT + CALLOUT_GAP) + 2 : 0);
  const labels = layoutMarkerLabels(placed.filter((m) => !CALLOUT_KINDS.includes(m.marker.kind)), opts.width, labelsTop);
  const top = labelsTop + (labels.rows > 0 ? labels.rows * MARKER_LABEL_HEIGHT + 3 : 0);
  const inner = { left: MARGIN.left, top, width: innerWidth, height: Math.max(10, opts.height - top - MARGIN.bottom) };
  const y = (logY ? scaleLog() : scaleLinear()).domain(padded(yRange, logY)).range([inner.top + inner.height, inner.top]);
  if (!spec.yDomain) y.nice();
  const toPy = guard(y, logY);
  return {
    width: opts.width,
    height: opts.height,
    inner,
    x,
    y,
    logX: opts.logX,
    logY,
    lines: spec.lines.map((line, i) => ({ spec: line, polyline: spec.joinGaps ? joined(data.x, ys[i], toPx, toPy) : minMaxPolyline(data.x, ys[i], toPx, toPy) })),
    legend: legend.items,
    dots: data.length <= inner.width / DOT_SPACING_PX,
    markers: placed,
    callouts: callouts.items,
    labels: labels.items,
  };
}
