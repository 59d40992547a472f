// Everything a chart draws, computed once per redraw and shared by the screen (SVG axes + canvas lines), the SVG
// export and the 2x PNG export: the figure's size and margins, d3 scales fitted to the data (and to the markers,
// so a change made after the latest evaluation is already visible), each line's min/max-per-pixel polyline in
// figure pixels, each band's polygons, the category strip's segments, and the markers' positions with their labels
// and badges in a band above the plot (where no data line can cross them, on screen or in an export). Pure: no DOM.
import { scaleLinear, scaleLog, type ScaleContinuousNumeric } from 'd3';
import type { BandSpec, ChartSpec, LineSpec } from './chart-spec';
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
export type MarkerKind = 'hyper' | 'grok' | 'divergence' | 'memorisation' | 'grokking' | 'decay-driven' | 'edge-necessary';

export interface Marker {
  step: number;
  label: string;
  kind: MarkerKind;
}

/** The markers drawn as callouts (a labelled badge above the plot, over its line): the key moments of a run. */
export const CALLOUT_KINDS: readonly MarkerKind[] = ['memorisation', 'grokking', 'decay-driven', 'edge-necessary'];
export const CALLOUT_FONT_SIZE = 11;
export const CALLOUT_HEIGHT = 17;
const CALLOUT_GAP = 3;

/** A callout's badge, laid out in the band between the legend and the plot. */
export interface Callout {
  marker: Marker;
  /** Callouts: every moment the badge stands for (moments at one step share it). */
  kinds?: MarkerKind[];
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
function layoutBadges(markers: readonly { marker: Marker; px: number; kinds?: MarkerKind[] }[], width: number, top: number, widthOf: (label: string) => number, rowHeight: number): { items: Callout[]; rows: number } {
  const rowEnds: number[] = [];
  const items = [...markers]
    .sort((a, b) => a.px - b.px)
    .map(({ marker, px, kinds }) => {
      const w = widthOf(marker.label);
      const x = px + w <= width - LEGEND_EDGE_PX ? px : Math.max(LEGEND_EDGE_PX, px - w);
      let row = rowEnds.findIndex((end) => end + 4 <= x);
      if (row < 0) row = rowEnds.push(0) - 1;
      rowEnds[row] = x + w;
      return { marker, ...(kinds && { kinds }), px, x, y: top + row * rowHeight, width: w };
    });
  return { items, rows: rowEnds.length };
}

/** Badges for the callouts (the key moments), flowed into rows above the plot. */
export const layoutCallouts = (callouts: readonly { marker: Marker; px: number }[], width: number, top: number) =>
  layoutBadges(mergeSameStep(callouts, width - 2 * LEGEND_EDGE_PX), width, top, calloutWidth, CALLOUT_HEIGHT + CALLOUT_GAP);

const firstWord = (text: string) => text.split(' ')[0];

/**
 * Moments at the same step share one badge ("memorised · grokked @ 150"): side by side they could only be stacked,
 * a row each, and the rows take the plot's height. The badge's marker is the first moment's; `kinds` lists them all.
 * A shared badge wider than `maxWidth` would run off the chart: those moments keep a badge each (stacked in rows).
 */
export function mergeSameStep(callouts: readonly { marker: Marker; px: number }[], maxWidth = Infinity): { marker: Marker; px: number; kinds: MarkerKind[] }[] {
  const byStep = new Map<number, { marker: Marker; px: number }[]>();
  for (const c of callouts) byStep.set(c.marker.step, [...(byStep.get(c.marker.step) ?? []), c]);
  return [...byStep.values()].flatMap((group) => {
    const single = group.map(({ marker, px }) => ({ marker, px, kinds: [marker.kind] }));
    if (group.length === 1) return single;
    const { marker, px } = group[0];
    const suffix = ` @ ${marker.step}`;
    const names = group.map((c) => (c.marker.label.endsWith(suffix) ? c.marker.label.slice(0, -suffix.length) : c.marker.label));
    // A word the previous name starts with is said once: "edge decay-driven · necessary @ 400".
    const label = `${names.map((n, i) => (i > 0 && n.includes(' ') && firstWord(n) === firstWord(names[i - 1]) ? n.slice(firstWord(n).length + 1) : n)).join(' · ')}${suffix}`;
    return calloutWidth(label) <= maxWidth ? [{ marker: { ...marker, label }, px, kinds: group.map((c) => c.marker.kind) }] : single;
  });
}

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

/**
 * The plotting area is never squashed below this height by the legend, badges and labels above it: the model is
 * then taller than the figure it was asked for (`minHeight`), and the chart grows to it.
 */
export const MIN_PLOT_HEIGHT = 90;

export const FONT_SIZE = 11;
export const TITLE_FONT_SIZE = 13;
const LEGEND_ROW_PX = 16;
const LEGEND_EDGE_PX = 8;
/** A legend entry: a 22 px line sample, a gap, the label. */
export const LEGEND_SAMPLE_PX = 22;

/** Approximate text width, for laying out the legend (an exported SVG has no layout engine to ask). */
export const textWidth = (text: string, size = FONT_SIZE) => text.length * size * 0.58;

/** A legend entry drawn as a filled swatch: a band (translucent) or a strip's category (solid). */
export interface LegendFill {
  label: string;
  color: string;
  opacity: number;
}

/** Fill opacity of bands, on the plot and in the legend. */
export const BAND_OPACITY = 0.22;
/** The category strip: its height, and its gap above the x axis. */
export const STRIP_HEIGHT = 9;
const STRIP_GAP = 3;

export interface LegendItem {
  /** The title (exports: line and fill both absent), one line's entry, or a band's or category's (fill). */
  line: LineSpec | null;
  fill?: LegendFill;
  text: string;
  /** The item's left edge and text baseline. */
  x: number;
  y: number;
}

/** Legend entries (after the title, if any; fills after the lines) flowed left to right into as many rows as the width needs. */
export function layoutLegend(lines: readonly LineSpec[], width: number, title?: string, fills: readonly LegendFill[] = []): { items: LegendItem[]; rows: number } {
  const entries: { line: LineSpec | null; fill?: LegendFill; text: string; w: number }[] = [
    ...(title ? [{ line: null, text: title, w: textWidth(title, TITLE_FONT_SIZE) + 18 }] : []),
    ...lines.map((line) => ({ line, text: line.label, w: LEGEND_SAMPLE_PX + 5 + textWidth(line.label) + 14 })),
    ...fills.map((fill) => ({ line: null, fill, text: fill.label, w: LEGEND_SAMPLE_PX + 5 + textWidth(fill.label) + 14 })),
  ];
  const items: LegendItem[] = [];
  let x = LEGEND_EDGE_PX;
  let row = 0;
  for (const e of entries) {
    if (x > LEGEND_EDGE_PX && x + e.w > width - LEGEND_EDGE_PX) {
      row += 1;
      x = LEGEND_EDGE_PX;
    }
    items.push({ line: e.line, ...(e.fill && { fill: e.fill }), text: e.text, x, y: 13 + row * LEGEND_ROW_PX });
    x += e.w;
  }
  return { items, rows: row + 1 };
}

export interface PlotModel {
  width: number;
  /** The height asked for, or `minHeight` if that is more. */
  height: number;
  /** The least height that leaves the plotting area MIN_PLOT_HEIGHT under the legend, badges and labels. */
  minHeight: number;
  /** The plotting area, in figure pixels. */
  inner: { left: number; top: number; width: number; height: number };
  x: ScaleContinuousNumeric<number, number>;
  y: ScaleContinuousNumeric<number, number>;
  logX: boolean;
  logY: boolean;
  /** The x axis's label ('step', or the spec's own), and where the axis is drawn (below the strip, if any). */
  xLabel: string;
  xAxisY: number;
  lines: { spec: LineSpec; polyline: Float64Array }[];
  /** Each band as closed polygons (one per run of rows where both edges are plottable), flat [px, py, ...]. */
  bands: { spec: BandSpec; polygons: Float64Array[] }[];
  /** The category strip's segments (null: the spec has none). */
  strip: { y: number; height: number; segments: StripSegment[] } | null;
  legend: LegendItem[];
  /** Few points for the width: each is drawn as a dot too (a single evaluation is visible at all). */
  dots: boolean;
  markers: { marker: Marker; px: number }[];
  /** The markers of CALLOUT_KINDS (also in `markers`), with their badges. */
  callouts: Callout[];
  /** The other markers (also in `markers`), with their labels' boxes above the plot. */
  labels: Callout[];
}

/** One row's category on the strip, from halfway to the previous row to halfway to the next. */
export interface StripSegment {
  x0: number;
  x1: number;
  step: number;
  category: number;
  color: string;
}

const LONE_BAND_PX = 6;

/** The polygons of a band: upper edge forward, lower edge back, split where either edge is not plottable. */
export function bandPolygons(xs: ArrayLike<number>, lower: ArrayLike<number>, upper: ArrayLike<number>, toPx: (x: number) => number, toPy: (y: number) => number): Float64Array[] {
  const polygons: Float64Array[] = [];
  let run: [number, number, number][] = [];
  const close = () => {
    // A lone row is drawn LONE_BAND_PX wide, so it shows at all.
    if (run.length === 1) {
      const [px, lo, hi] = run[0];
      const w = LONE_BAND_PX / 2;
      run = [[px - w, lo, hi], [px + w, lo, hi]];
    }
    if (run.length > 0) {
      const pts = [...run.map(([px, , hi]) => [px, hi]), ...run.reverse().map(([px, lo]) => [px, lo])];
      polygons.push(Float64Array.from(pts.flat()));
    }
    run = [];
  };
  const n = Math.min(xs.length, lower.length, upper.length);
  for (let i = 0; i < n; i++) {
    const px = toPx(xs[i]);
    const lo = toPy(lower[i]);
    const hi = toPy(upper[i]);
    if (Number.isFinite(px) && Number.isFinite(lo) && Number.isFinite(hi)) run.push([px, lo, hi]);
    else close();
  }
  close();
  return polygons;
}

/** The strip's segments: each row with a category spans halfway to its neighbours (a lone row: 8 px), within [left, right]. */
export function stripSegments(xs: ArrayLike<number>, categories: ArrayLike<number>, colors: readonly string[], toPx: (x: number) => number, left: number, right: number): StripSegment[] {
  const n = Math.min(xs.length, categories.length);
  const px = Array.from({ length: n }, (_, i) => toPx(xs[i]));
  const segments: StripSegment[] = [];
  for (let i = 0; i < n; i++) {
    const c = categories[i];
    if (!(Number.isInteger(c) && c >= 0 && c < colors.length) || !Number.isFinite(px[i])) continue;
    const before = i > 0 && Number.isFinite(px[i - 1]) ? (px[i] - px[i - 1]) / 2 : NaN;
    const after = i + 1 < n && Number.isFinite(px[i + 1]) ? (px[i + 1] - px[i]) / 2 : NaN;
    const half = (v: number, other: number) => (Number.isFinite(v) ? v : Number.isFinite(other) ? other : 4);
    const x0 = Math.max(left, px[i] - half(before, after));
    const x1 = Math.min(right, px[i] + half(after, before));
    if (x1 > x0) segments.push({ x0, x1, step: xs[i], category: c, color: colors[c] });
  }
  return segments;
}

/** The legend's fill entries of a spec: its bands, then its strip's categories. */
export const legendFills = (spec: ChartSpec): LegendFill[] => [
  ...(spec.bands ?? []).map((b) => ({ label: b.label, color: b.color, opacity: BAND_OPACITY + 0.1 })),
  ...(spec.strip?.categories ?? []).map((c) => ({ label: c.label, color: c.color, opacity: 1 })),
];

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
  // Only a step axis can be logarithmic.
  const logX = opts.logX && spec.xLabel === undefined;
  const ys = spec.lines.map((l) => data.y(l.key));
  const bandYs = (spec.bands ?? []).map((b) => [data.y(b.lower), data.y(b.upper)] as const);
  const plotted = [...ys, ...bandYs.flat()];
  const yRange = spec.yDomain ?? extent(plotted, logY);
  const xRange = extent([data.x, markers.map((m) => m.step), data.span ?? []], logX);
  if (data.length === 0 || !extent(plotted, logY) || !yRange || !xRange) return null;

  const legend = layoutLegend(spec.lines, opts.width, opts.title, legendFills(spec));
  const legendBottom = 14 + legend.rows * LEGEND_ROW_PX;
  // The x scale does not depend on the top margin: place the markers first, then make room for the callouts' badges.
  const innerWidth = Math.max(10, opts.width - MARGIN.left - MARGIN.right);
  const x = (logX ? scaleLog() : scaleLinear()).domain(padded(xRange, logX)).range([MARGIN.left, MARGIN.left + innerWidth]);
  if (!logX) x.nice();
  const toPx = guard(x, logX);
  const placed = markers.flatMap((marker) => {
    const px = toPx(marker.step);
    return Number.isFinite(px) ? [{ marker, px }] : [];
  });
  const callouts = layoutCallouts(placed.filter((m) => CALLOUT_KINDS.includes(m.marker.kind)), opts.width, legendBottom - 2);
  const labelsTop = legendBottom + (callouts.rows > 0 ? callouts.rows * (CALLOUT_HEIGHT + CALLOUT_GAP) + 2 : 0);
  const labels = layoutMarkerLabels(placed.filter((m) => !CALLOUT_KINDS.includes(m.marker.kind)), opts.width, labelsTop);
  const top = labelsTop + (labels.rows > 0 ? labels.rows * MARKER_LABEL_HEIGHT + 3 : 0);
  const stripSpace = spec.strip ? STRIP_HEIGHT + STRIP_GAP : 0;
  const minHeight = top + MIN_PLOT_HEIGHT + MARGIN.bottom + stripSpace;
  const height = Math.max(opts.height, minHeight);
  const inner = { left: MARGIN.left, top, width: innerWidth, height: height - top - MARGIN.bottom - stripSpace };
  const plotBottom = inner.top + inner.height;
  const y = (logY ? scaleLog() : scaleLinear()).domain(padded(yRange, logY)).range([inner.top + inner.height, inner.top]);
  if (!spec.yDomain) y.nice();
  const toPy = guard(y, logY);
  return {
    width: opts.width,
    height,
    minHeight,
    inner,
    x,
    y,
    logX,
    logY,
    xLabel: spec.xLabel ?? 'step',
    xAxisY: plotBottom + stripSpace,
    lines: spec.lines.map((line, i) => ({ spec: line, polyline: spec.joinGaps ? joined(data.x, ys[i], toPx, toPy) : minMaxPolyline(data.x, ys[i], toPx, toPy) })),
    bands: (spec.bands ?? []).map((band, i) => ({ spec: band, polygons: bandPolygons(data.x, bandYs[i][0], bandYs[i][1], toPx, toPy) })),
    strip: spec.strip
      ? {
          y: plotBottom + STRIP_GAP,
          height: STRIP_HEIGHT,
          segments: stripSegments(data.x, data.y(spec.strip.key), spec.strip.categories.map((c) => c.color), toPx, inner.left, inner.left + inner.width),
        }
      : null,
    legend: legend.items,
    dots: data.length <= inner.width / DOT_SPACING_PX,
    markers: placed,
    callouts: callouts.items,
    labels: labels.items,
  };
}
