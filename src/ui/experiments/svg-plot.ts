// The experiment panels' figures, drawn with d3 into an SVG (they are small: no canvas layer), every colour and
// font an SVG attribute so that a serialised copy (the SVG and PNG exports) looks exactly like the page. Three
// kinds: line plots with a shaded control band (perturbation curves, mode spectra), horizontal bar plots with the
// random control as dots (ablation, curvature) and a heatmap (the 2-D mode spectrum). Each `draw...` returns a Draw:
// (svg, size, options) => void, which the figure component calls for the screen and again for each export.
import { area, axisBottom, axisLeft, interpolateViridis, line, scaleBand, scaleLinear, scaleSequentialSqrt, select, type NumberValue, type ScaleLinear, type Selection } from 'd3';
import { CHART_INK, OKABE_ITO, SERIES_STYLES } from '../charts/palette';
import { FONT_SIZE, LEGEND_SAMPLE_PX, TITLE_FONT_SIZE, textWidth } from '../charts/plot-model';
import { formatNumber, type BarKind, type BarLayout, type HeatmapData, type LinePlotData } from './experiment-data';

export interface FigureSize {
  width: number;
  height: number;
}

export interface DrawOptions {
  /** Exports: the title in the top band (and the file's <title>). */
  title?: string;
  /** Exports: an opaque background. */
  background?: boolean;
}

export type Draw = (svg: SVGSVGElement, size: FigureSize, options: DrawOptions) => void;

type Root = Selection<SVGSVGElement, unknown, null, undefined>;

const SVG_NS = 'http://www.w3.org/2000/svg';
const LEGEND_ROW = 16;
const TITLE_BAND = 22;
const BAND_FILL = CHART_INK.axis;
const BAND_OPACITY = 0.28;
const SHADE_FILL = '#c9ced8';
const REF_COLOR = CHART_INK.text;

export const BAR_COLOR: Record<BarKind, string> = {
  edge: OKABE_ITO.vermillion,
  bulk: OKABE_ITO.blue,
  single: OKABE_ITO.skyBlue,
  random: OKABE_ITO.black,
};

function begin(svg: SVGSVGElement, { width, height }: FigureSize, options: DrawOptions): Root {
  const root = select(svg);
  root.selectAll('*').remove();
  root
    .attr('xmlns', SVG_NS)
    .attr('width', width)
    .attr('height', height)
    .attr('viewBox', `0 0 ${width} ${height}`)
    .attr('font-family', CHART_INK.font)
    .attr('font-size', FONT_SIZE);
  if (options.title) root.append('title').text(options.title);
  if (options.background) root.append('rect').attr('width', width).attr('height', height).attr('fill', CHART_INK.background);
  if (options.title) {
    root.append('text').attr('x', 8).attr('y', 16).attr('font-weight', 600).attr('font-size', TITLE_FONT_SIZE).attr('fill', CHART_INK.text).text(options.title);
  }
  return root;
}

// ---- Legend ------------------------------------------------------------------------------------------------

export interface LegendEntry {
  label: string;
  kind: 'line' | 'band' | 'ref' | 'dots' | 'bar' | 'shade';
  color: string;
  dash?: readonly number[];
}

const entryWidth = (e: LegendEntry) => LEGEND_SAMPLE_PX + 5 + textWidth(e.label) + 14;

/** Rows the legend takes in `width` (entries wrap). */
export function legendRows(entries: readonly LegendEntry[], width: number): number {
  if (entries.length === 0) return 0;
  let rows = 1;
  let x = 0;
  for (const e of entries) {
    const w = entryWidth(e);
    if (x > 0 && x + w > width) [rows, x] = [rows + 1, 0];
    x += w;
  }
  return rows;
}

function drawLegend(root: Root, entries: readonly LegendEntry[], left: number, top: number, width: number): void {
  let x = 0;
  let y = top + LEGEND_ROW / 2;
  for (const e of entries) {
    const w = entryWidth(e);
    if (x > 0 && x + w > width) [x, y] = [0, y + LEGEND_ROW];
    const g = root.append('g').attr('class', 'legend-item').attr('transform', `translate(${left + x},${y})`);
    switch (e.kind) {
      case 'band':
      case 'shade':
        g.append('rect').attr('x', 0).attr('y', -5).attr('width', LEGEND_SAMPLE_PX).attr('height', 10).attr('fill', e.color).attr('fill-opacity', e.kind === 'band' ? BAND_OPACITY + 0.1 : 1);
        break;
      case 'bar':
        g.append('rect').attr('x', 0).attr('y', -5).attr('width', LEGEND_SAMPLE_PX).attr('height', 10).attr('fill', e.color);
        break;
      case 'dots':
        for (const cx of [4, 11, 18]) g.append('circle').attr('cx', cx).attr('cy', 0).attr('r', 2.5).attr('fill', e.color);
        break;
      default:
        g.append('line').attr('x1', 0).attr('x2', LEGEND_SAMPLE_PX).attr('stroke', e.color).attr('stroke-width', e.kind === 'ref' ? 1.5 : 2.5).attr('stroke-dasharray', e.dash?.join(' ') || null);
    }
    g.append('text').attr('x', LEGEND_SAMPLE_PX + 5).attr('y', 4).attr('fill', CHART_INK.text).text(e.label);
    x += w;
  }
}

/** The top band: the title (exports) and the legend rows. */
const topBand = (entries: readonly LegendEntry[], width: number, options: DrawOptions) => (options.title ? TITLE_BAND : 4) + legendRows(entries, width) * LEGEND_ROW + 8;

// ---- Axes --------------------------------------------------------------------------------------------------

function tickFormat(scale: ScaleLinear<number, number>, count: number): (v: NumberValue) => string {
  const ticks = scale.ticks(count).filter((t) => t !== 0);
  const extreme = ticks.some((t) => Math.abs(t) < 1e-3 || Math.abs(t) >= 1e5);
  const plain = scale.tickFormat(count);
  return (v) => (extreme ? formatNumber(Number(v), 2) : plain(v).replace('-', '−'));
}

interface Inner {
  left: number;
  top: number;
  width: number;
  height: number;
}

function styleAxis(g: Selection<SVGGElement, unknown, null, undefined>): void {
  g.attr('color', CHART_INK.axis).attr('font-family', CHART_INK.font).attr('font-size', FONT_SIZE);
  g.selectAll('text').attr('fill', CHART_INK.muted);
}

function axes(root: Root, inner: Inner, x: ScaleLinear<number, number>, y: ScaleLinear<number, number> | null, labels: { x: string; y?: string }, integerX = false): void {
  const xTicks = Math.max(2, Math.floor(inner.width / 80));
  const grid = root.append('g').attr('stroke', CHART_INK.grid).attr('stroke-width', 1);
  for (const t of x.ticks(xTicks)) grid.append('line').attr('x1', x(t)).attr('x2', x(t)).attr('y1', inner.top).attr('y2', inner.top + inner.height);
  const xAxis = root.append<SVGGElement>('g').attr('transform', `translate(0,${inner.top + inner.height})`);
  const xs = axisBottom(x).ticks(xTicks).tickSizeOuter(0).tickFormat(integerX ? (v) => (Number.isInteger(Number(v)) ? String(v) : '') : tickFormat(x, xTicks));
  xAxis.call(xs);
  styleAxis(xAxis);
  root.append('text').attr('x', inner.left + inner.width).attr('y', inner.top + inner.height + 32).attr('text-anchor', 'end').attr('fill', CHART_INK.muted).text(labels.x);
  if (!y) return;
  const yTicks = Math.max(2, Math.floor(inner.height / 36));
  for (const t of y.ticks(yTicks)) grid.append('line').attr('x1', inner.left).attr('x2', inner.left + inner.width).attr('y1', y(t)).attr('y2', y(t));
  const yAxis = root.append<SVGGElement>('g').attr('transform', `translate(${inner.left},0)`);
  yAxis.call(axisLeft(y).ticks(yTicks).tickSizeOuter(0).tickFormat(tickFormat(y, yTicks)));
  styleAxis(yAxis);
  if (labels.y) {
    root.append('text').attr('transform', `translate(12,${inner.top + inner.height / 2}) rotate(-90)`).attr('text-anchor', 'middle').attr('fill', CHART_INK.muted).text(labels.y);
  }
}

function clip(root: Root, inner: Inner, id: string): Selection<SVGGElement, unknown, null, undefined> {
  root.append('clipPath').attr('id', id).append('rect').attr('x', inner.left - 4).attr('y', inner.top - 4).attr('width', inner.width + 8).attr('height', inner.height + 8);
  return root.append<SVGGElement>('g').attr('clip-path', `url(#${id})`);
}

let clipCounter = 0;
const nextId = (what: string) => `${what}-${++clipCounter}`;

// ---- Line plots --------------------------------------------------------------------------------------------

export interface LinePlotLabels {
  x: string;
  y: string;
  /** Integer x ticks only (frequencies). */
  integerX?: boolean;
  /** A dot at every point (short series). */
  dots?: boolean;
  /** A faint vertical line at x = 0. */
  zeroX?: boolean;
}

export function linePlotLegend(plot: LinePlotData): LegendEntry[] {
  return [
    ...plot.lines.map((l, j) => ({ label: l.label, kind: 'line' as const, color: SERIES_STYLES[j % SERIES_STYLES.length].color, dash: SERIES_STYLES[j % SERIES_STYLES.length].dash })),
    ...(plot.band ? [{ label: plot.band.label, kind: 'band' as const, color: BAND_FILL }] : []),
    ...plot.refs.map((r) => ({ label: r.label, kind: 'ref' as const, color: REF_COLOR, dash: [5, 4] })),
  ];
}

const MARGIN = { left: 66, right: 16, bottom: 38 };

export function drawLinePlot(plot: LinePlotData, labels: LinePlotLabels): Draw {
  return (svg, size, options) => {
    const root = begin(svg, size, options);
    const entries = linePlotLegend(plot);
    const top = topBand(entries, size.width - 16, options);
    drawLegend(root, entries, 8, options.title ? TITLE_BAND : 4, size.width - 16);
    const inner = { left: MARGIN.left, top, width: Math.max(10, size.width - MARGIN.left - MARGIN.right), height: Math.max(10, size.height - top - MARGIN.bottom) };
    const x = scaleLinear().domain(plot.xDomain).range([inner.left, inner.left + inner.width]);
    const y = scaleLinear().domain(plot.yDomain).range([inner.top + inner.height, inner.top]).nice();
    axes(root, inner, x, y, labels, labels.integerX);
    const g = clip(root, inner, nextId('clip-line'));
    if (labels.zeroX && plot.xDomain[0] < 0 && plot.xDomain[1] > 0) {
      g.append('line').attr('x1', x(0)).attr('x2', x(0)).attr('y1', inner.top).attr('y2', inner.top + inner.height).attr('stroke', CHART_INK.axis).attr('stroke-width', 1);
    }
    const xs = plot.x;
    if (plot.band) {
      const { min, max, mean } = plot.band;
      const ok = (i: number) => Number.isFinite(min[i]) && Number.isFinite(max[i]);
      const band = area<number>().defined(ok).x((i) => x(xs[i])).y0((i) => y(min[i])).y1((i) => y(max[i]));
      g.append('path').attr('class', 'band').attr('d', band(xs.map((_, i) => i))).attr('fill', BAND_FILL).attr('fill-opacity', BAND_OPACITY).attr('stroke', 'none');
      const meanLine = line<number>().defined((i) => Number.isFinite(mean[i])).x((i) => x(xs[i])).y((i) => y(mean[i]));
      g.append('path').attr('d', meanLine(xs.map((_, i) => i))).attr('fill', 'none').attr('stroke', CHART_INK.muted).attr('stroke-width', 1.25).attr('stroke-dasharray', '3 3');
    }
    for (const ref of plot.refs) {
      g.append('line').attr('class', 'ref').attr('x1', inner.left).attr('x2', inner.left + inner.width).attr('y1', y(ref.y)).attr('y2', y(ref.y)).attr('stroke', REF_COLOR).attr('stroke-width', 1.5).attr('stroke-dasharray', '5 4');
    }
    plot.lines.forEach((l, j) => {
      const style = SERIES_STYLES[j % SERIES_STYLES.length];
      const path = line<number>().defined((i) => Number.isFinite(l.values[i])).x((i) => x(xs[i])).y((i) => y(l.values[i]));
      g.append('path')
        .attr('class', 'series')
        .attr('data-series', l.key)
        .attr('d', path(xs.map((_, i) => i)))
        .attr('fill', 'none')
        .attr('stroke', style.color)
        .attr('stroke-width', 2)
        .attr('stroke-linejoin', 'round')
        .attr('stroke-dasharray', style.dash.join(' ') || null);
      if (labels.dots) {
        xs.forEach((xv, i) => {
          if (Number.isFinite(l.values[i])) g.append('circle').attr('cx', x(xv)).attr('cy', y(l.values[i])).attr('r', 2.5).attr('fill', style.color);
        });
      }
    });
  };
}

// ---- Bar plots ---------------------------------------------------------------------------------------------

const BAR_ROW = 24;

export function barPlotLegend(layout: BarLayout): LegendEntry[] {
  const kinds = new Set(layout.rows.map((r) => r.kind));
  const names: Record<BarKind, string> = { edge: 'edge', bulk: 'bulk', single: 'single v_k', random: 'random' };
  return [
    ...(['edge', 'bulk', 'single'] as const).filter((k) => kinds.has(k)).map((k) => ({ label: names[k], kind: 'bar' as const, color: BAR_COLOR[k] })),
    ...(layout.dots ? [{ label: `${layout.dots.label} (range, mean)`, kind: 'dots' as const, color: BAR_COLOR.random }] : []),
    ...(layout.shade ? [{ label: layout.shade.label, kind: 'shade' as const, color: SHADE_FILL }] : []),
    ...layout.refs.map((r) => ({ label: r.label, kind: 'ref' as const, color: REF_COLOR, dash: [5, 4] })),
  ];
}

const barLabelWidth = (layout: BarLayout) => Math.min(150, Math.max(...[...layout.rows.map((r) => r.label), layout.dots?.label ?? ''].map((t) => textWidth(t))) + 14);

/** The height a bar plot needs at `width` (legend rows and one band per row). */
export function barPlotHeight(layout: BarLayout, width: number, options: DrawOptions = {}): number {
  const rows = layout.rows.length + (layout.dots ? 1.6 : 0);
  return Math.round(topBand(barPlotLegend(layout), width - 16, options) + rows * BAR_ROW + MARGIN.bottom + 6);
}

export function drawBarPlot(layout: BarLayout, labels: { x: string }): Draw {
  return (svg, size, options) => {
    const root = begin(svg, size, options);
    const entries = barPlotLegend(layout);
    const top = topBand(entries, size.width - 16, options);
    drawLegend(root, entries, 8, options.title ? TITLE_BAND : 4, size.width - 16);
    const left = barLabelWidth(layout);
    const inner = { left, top, width: Math.max(10, size.width - left - 24), height: Math.max(10, size.height - top - MARGIN.bottom) };
    const x = scaleLinear().domain(layout.domain).range([inner.left, inner.left + inner.width]).nice();
    const keys = [...layout.rows.map((r) => r.key), ...(layout.dots ? [layout.dots.key] : [])];
    const band = scaleBand<string>().domain(keys).range([inner.top, inner.top + inner.height]).paddingInner(0.28).paddingOuter(0.15);
    const shade = layout.shade;
    if (shade) {
      root.append('rect').attr('class', 'shade').attr('x', x(shade.from)).attr('width', Math.max(1, x(shade.to) - x(shade.from))).attr('y', inner.top).attr('height', inner.height).attr('fill', SHADE_FILL);
    }
    axes(root, inner, x, null, labels);
    root.append('line').attr('x1', x(0)).attr('x2', x(0)).attr('y1', inner.top).attr('y2', inner.top + inner.height).attr('stroke', CHART_INK.text).attr('stroke-width', 1);
    const label = (key: string, text: string) =>
      root.append('text').attr('x', inner.left - 8).attr('y', band(key)! + band.bandwidth() / 2 + 4).attr('text-anchor', 'end').attr('fill', CHART_INK.text).text(text);
    const valueLabel = (px: number, key: string, value: number, right: boolean) =>
      root
        .append('text')
        .attr('class', 'value')
        .attr('x', right ? px + 4 : px - 4)
        .attr('y', band(key)! + band.bandwidth() / 2 + 4)
        .attr('text-anchor', right ? 'start' : 'end')
        .attr('fill', CHART_INK.text)
        .attr('paint-order', 'stroke')
        .attr('stroke', CHART_INK.background)
        .attr('stroke-width', 3)
        .text(formatNumber(value));
    for (const row of layout.rows) {
      const [a, b] = [x(Math.min(0, row.value)), x(Math.max(0, row.value))];
      root
        .append('rect')
        .attr('class', `bar bar-${row.kind}`)
        .attr('data-key', row.key)
        .attr('x', a)
        .attr('width', Math.max(1, b - a))
        .attr('y', band(row.key)!)
        .attr('height', band.bandwidth())
        .attr('fill', BAR_COLOR[row.kind])
        .append('title')
        .text(`${row.label}: ${formatNumber(row.value)}; ${row.note}`);
      label(row.key, row.label);
      // The value outside the bar's end, or inside it when that would leave the plot.
      const right = row.value >= 0;
      const end = right ? b : a;
      const room = right ? inner.left + inner.width - end : end - inner.left;
      valueLabel(room > 40 ? end : right ? end - 44 : end + 44, row.key, row.value, room > 40 ? right : !right);
    }
    const dots = layout.dots;
    if (dots) {
      const mid = band(dots.key)! + band.bandwidth() / 2;
      label(dots.key, dots.label);
      const g = root.append('g').attr('class', 'dots').attr('fill', BAR_COLOR.random);
      g.append('line').attr('x1', x(dots.min)).attr('x2', x(dots.max)).attr('y1', mid).attr('y2', mid).attr('stroke', BAR_COLOR.random).attr('stroke-width', 1.25);
      for (const v of [dots.min, dots.max]) g.append('line').attr('x1', x(v)).attr('x2', x(v)).attr('y1', mid - 5).attr('y2', mid + 5).attr('stroke', BAR_COLOR.random).attr('stroke-width', 1.25);
      dots.values.forEach((v, i) => g.append('circle').attr('cx', x(v)).attr('cy', mid + ((i % 5) - 2) * 2.2).attr('r', 2.6).attr('fill-opacity', 0.7));
      g.append('line').attr('class', 'mean').attr('x1', x(dots.mean)).attr('x2', x(dots.mean)).attr('y1', mid - 9).attr('y2', mid + 9).attr('stroke', OKABE_ITO.purple).attr('stroke-width', 3);
    }
    for (const ref of layout.refs) {
      if (ref.offScale) {
        // An arrow at the edge it lies beyond, with its value: the legend says it is off this scale.
        const [lo, hi] = x.range();
        const right = ref.x > x.domain()[1];
        const px = right ? hi : lo;
        const dir = right ? 1 : -1;
        const y0 = inner.top + 6;
        const g = root.append('g').attr('class', 'ref ref-off-scale').attr('fill', REF_COLOR);
        g.append('path').attr('d', `M${px - dir * 9} ${y0 - 5} L${px} ${y0} L${px - dir * 9} ${y0 + 5} Z`);
        g.append('text')
          .attr('x', px - dir * 12)
          .attr('y', y0 + 4)
          .attr('text-anchor', right ? 'end' : 'start')
          .attr('font-size', 10)
          .attr('paint-order', 'stroke')
          .attr('stroke', CHART_INK.background)
          .attr('stroke-width', 3)
          .text(`λ₁ = ${formatNumber(ref.x)}`);
        continue;
      }
      const px = x(ref.x);
      root.append('line').attr('class', 'ref').attr('x1', px).attr('x2', px).attr('y1', inner.top).attr('y2', inner.top + inner.height).attr('stroke', REF_COLOR).attr('stroke-width', 1.5).attr('stroke-dasharray', '5 4');
    }
  };
}

// ---- Heatmap -----------------------------------------------------------------------------------------------

export const heatmapColor = (max: number) => scaleSequentialSqrt(interpolateViridis).domain([0, max > 0 ? max : 1]);

/** The colour bar's tick values (fractions of the largest cell) and labels. */
export const colorBarTicks = (max: number) => [0, 0.25, 0.5, 1].map((f) => f * (max || 1)).map((value) => ({ value, label: formatNumber(value, 2) }));

/**
 * Where the colour bar's tick labels and its title go, in px right of the bar: the labels after a 6 px gap, the
 * title (rotated, reading downwards) after the widest label with room for its descenders, so they never touch.
 * `width`: everything right of the bar.
 */
export function colorBarLayout(tickLabels: readonly string[]): { labelX: number; titleX: number; width: number } {
  const labelX = 6;
  // Digits and dots render up to ~0.62 em in the sans-serif fonts the page may get: a margin over textWidth's average.
  const widest = Math.max(0, ...tickLabels.map((t) => textWidth(t) * 1.15));
  const titleX = labelX + widest + 8 + FONT_SIZE * 0.3;
  return { labelX, titleX, width: titleX + FONT_SIZE + 2 };
}

export function drawHeatmap(h: HeatmapData, labels: { x: string; y: string; value: string }): Draw {
  return (svg, size, options) => {
    const root = begin(svg, size, options);
    const top = (options.title ? TITLE_BAND : 4) + 8;
    const ticksOfBar = colorBarTicks(h.max);
    const barText = colorBarLayout(ticksOfBar.map((t) => t.label));
    const bar = { width: 12, gap: 14, labels: barText.width };
    const side = Math.max(20, Math.min(size.height - top - MARGIN.bottom, size.width - MARGIN.left - bar.gap - bar.width - bar.labels - 8));
    const inner = { left: MARGIN.left + Math.max(0, (size.width - MARGIN.left - side - bar.gap - bar.width - bar.labels - 8) / 2), top, width: side, height: side };
    const n = h.freqs.length;
    const lo = h.freqs[0] - 0.5;
    const hi = h.freqs[n - 1] + 0.5;
    const x = scaleLinear().domain([lo, hi]).range([inner.left, inner.left + side]);
    const y = scaleLinear().domain([lo, hi]).range([inner.top + side, inner.top]);
    const color = heatmapColor(h.max);
    const cell = side / n;
    const g = root.append('g').attr('class', 'cells').attr('shape-rendering', 'crispEdges');
    h.freqs.forEach((k1, i) =>
      h.freqs.forEach((k2, j) => {
        const v = h.cells[i * n + j];
        g.append('rect')
          .attr('x', x(k2 - 0.5))
          .attr('y', y(k1 + 0.5))
          .attr('width', cell + 0.3)
          .attr('height', cell + 0.3)
          .attr('fill', Number.isFinite(v) ? color(v) : CHART_INK.grid);
      }),
    );
    const step = n > 40 ? 10 : 5;
    const ticks = h.freqs.filter((k) => k % step === 0);
    const xAxis = root.append<SVGGElement>('g').attr('transform', `translate(0,${inner.top + side})`);
    xAxis.call(axisBottom(x).tickValues(ticks).tickFormat((v) => String(v).replace('-', '−')).tickSizeOuter(0));
    styleAxis(xAxis);
    const yAxis = root.append<SVGGElement>('g').attr('transform', `translate(${inner.left},0)`);
    yAxis.call(axisLeft(y).tickValues(ticks).tickFormat((v) => String(v).replace('-', '−')).tickSizeOuter(0));
    styleAxis(yAxis);
    root.append('text').attr('x', inner.left + side).attr('y', inner.top + side + 32).attr('text-anchor', 'end').attr('fill', CHART_INK.muted).text(labels.x);
    root.append('text').attr('transform', `translate(${inner.left - 40},${inner.top + side / 2}) rotate(-90)`).attr('text-anchor', 'middle').attr('fill', CHART_INK.muted).text(labels.y);
    // Colour bar.
    const gradientId = nextId('heat');
    const gradient = root.append('defs').append('linearGradient').attr('id', gradientId).attr('x1', 0).attr('y1', 1).attr('x2', 0).attr('y2', 0);
    for (let s = 0; s <= 10; s++) gradient.append('stop').attr('offset', s / 10).attr('stop-color', color((h.max * s * s) / 100));
    const bx = inner.left + side + bar.gap;
    root.append('rect').attr('x', bx).attr('y', inner.top).attr('width', bar.width).attr('height', side).attr('fill', `url(#${gradientId})`).attr('stroke', CHART_INK.axis);
    const scale = scaleLinear().domain([0, Math.sqrt(h.max || 1)]).range([inner.top + side, inner.top]);
    for (const t of ticksOfBar) {
      const py = scale(Math.sqrt(t.value));
      root.append('line').attr('x1', bx + bar.width).attr('x2', bx + bar.width + 4).attr('y1', py).attr('y2', py).attr('stroke', CHART_INK.axis);
      root.append('text').attr('class', 'colorbar-tick').attr('x', bx + bar.width + barText.labelX).attr('y', py + 4).attr('fill', CHART_INK.muted).text(t.label);
    }
    root
      .append('text')
      .attr('class', 'colorbar-title')
      .attr('transform', `translate(${bx + bar.width + barText.titleX},${inner.top + side / 2}) rotate(90)`)
      .attr('text-anchor', 'middle')
      .attr('fill', CHART_INK.muted)
      .text(labels.value);
  };
}
