// Drawing a PlotModel: the SVG layer (grid, d3 axes, labels, legend, the category strip, markers; every colour and
// font an SVG attribute, so a serialised copy renders exactly as on the page) and the canvas layer (the bands and
// the lines, clipped to the plotting area). The exports build on the same two functions.
import { axisBottom, axisLeft, format, select, type NumberValue, type ScaleContinuousNumeric, type Selection } from 'd3';
import type { ChartSpec } from './chart-spec';
import { CHART_INK } from './palette';
import { BAND_OPACITY, CALLOUT_FONT_SIZE, CALLOUT_HEIGHT, FONT_SIZE, LEGEND_SAMPLE_PX, MARKER_LABEL_FONT_SIZE, MARKER_LABEL_HEIGHT, TITLE_FONT_SIZE, type MarkerKind, type PlotModel } from './plot-model';
import { subPaths, svgPathData } from './downsample';

const SVG_NS = 'http://www.w3.org/2000/svg';
const DOT_RADIUS = 2.5;
/** Lines and dots may reach this far past the plotting area (a point on the edge is drawn whole). */
const CLIP_SLACK = DOT_RADIUS + 1;

/** The drawn points of a polyline (its NaN break markers left out). */
function* points(polyline: Float64Array): Generator<[number, number]> {
  for (let i = 0; i < polyline.length; i += 2) if (!Number.isNaN(polyline[i])) yield [polyline[i], polyline[i + 1]];
}
const MARKER_COLOR: Record<MarkerKind, string> = {
  hyper: CHART_INK.hyper,
  grok: CHART_INK.grok,
  divergence: CHART_INK.divergence,
  memorisation: CHART_INK.memorisation,
  grokking: CHART_INK.grokking,
  'decay-driven': CHART_INK.decayDriven,
  'edge-necessary': CHART_INK.edgeNecessary,
};


const scientific = format('.2~e');

/**
 * Tick labels for a value axis: d3's own (50, 0.25, 1.5; on a log axis only some ticks labelled), or scientific
 * notation when the ticks are tiny or huge (alignments of 1e-8 would otherwise read 0.00000001).
 */
function valueFormat(scale: ScaleContinuousNumeric<number, number>, count: number, logScale: boolean): (v: NumberValue) => string {
  const ticks = scale.ticks(count).filter((t) => t !== 0);
  const extreme = ticks.some((t) => Math.abs(t) < 1e-3 || Math.abs(t) >= 1e5);
  // A log scale's own default is SI prefixes ("200m"): plain numbers read better on a value axis.
  const plain = logScale ? scale.tickFormat(count, '~g') : scale.tickFormat(count);
  if (!extreme) return plain;
  return (v) => (plain(v) === '' ? '' : Number(v) === 0 ? '0' : scientific(v));
}

export interface SvgOptions {
  /** Exports: the file's <title>, and the lines as SVG paths. */
  title?: string;
  linesAsPaths?: boolean;
  background?: boolean;
}

/** Redraws the SVG layer of a chart into `svg` (emptied first). */
export function renderSvg(svg: SVGSVGElement, model: PlotModel, spec: ChartSpec, options: SvgOptions = {}): void {
  const root = select(svg);
  root.selectAll('*').remove();
  root
    .attr('xmlns', SVG_NS)
    .attr('width', model.width)
    .attr('height', model.height)
    .attr('viewBox', `0 0 ${model.width} ${model.height}`)
    .attr('font-family', CHART_INK.font)
    .attr('font-size', FONT_SIZE);
  if (options.title) root.append('title').text(options.title);
  if (options.background) root.append('rect').attr('width', model.width).attr('height', model.height).attr('fill', CHART_INK.background);
  const { inner, x, y } = model;
  const xTicks = Math.max(2, Math.floor(inner.width / 90));
  const yTicks = Math.max(2, Math.floor(inner.height / 40));

  // Grid.
  const grid = root.append('g').attr('stroke', CHART_INK.grid).attr('stroke-width', 1);
  for (const t of y.ticks(yTicks)) grid.append('line').attr('x1', inner.left).attr('x2', inner.left + inner.width).attr('y1', y(t)).attr('y2', y(t));
  for (const t of x.ticks(xTicks)) grid.append('line').attr('y1', inner.top).attr('y2', inner.top + inner.height).attr('x1', x(t)).attr('x2', x(t));

  // Axes.
  const styleAxis = (g: Selection<SVGGElement, unknown, null, undefined>) => {
    g.attr('color', CHART_INK.axis).attr('font-family', CHART_INK.font).attr('font-size', FONT_SIZE);
    g.selectAll('text').attr('fill', CHART_INK.muted);
  };
  const xAxis = root.append<SVGGElement>('g').attr('transform', `translate(0,${model.xAxisY})`);
  const stepAxis = model.xLabel === 'step';
  xAxis.call(stepAxis ? axisBottom(x).ticks(xTicks, '~s').tickSizeOuter(0) : axisBottom(x).ticks(xTicks).tickFormat(valueFormat(x, xTicks, false)).tickSizeOuter(0));
  styleAxis(xAxis);
  const yAxis = root.append<SVGGElement>('g').attr('transform', `translate(${inner.left},0)`);
  yAxis.call(axisLeft(y).ticks(yTicks).tickFormat(valueFormat(y, yTicks, model.logY)).tickSizeOuter(0));
  styleAxis(yAxis);
  root
    .append('text')
    .attr('x', inner.left + inner.width)
    .attr('y', model.height - 4)
    .attr('text-anchor', 'end')
    .attr('fill', CHART_INK.muted)
    .text(model.logX ? `${model.xLabel} (log scale)` : model.xLabel);
  root
    .append('text')
    .attr('transform', `translate(13,${inner.top + inner.height / 2}) rotate(-90)`)
    .attr('text-anchor', 'middle')
    .attr('fill', CHART_INK.muted)
    .text(model.logY ? `${spec.yLabel} (log scale)` : spec.yLabel);

  // Title (exports) and legend in the top band, as laid out by the model.
  for (const item of model.legend) {
    if (item.fill) {
      const g = root.append('g').attr('class', 'legend-fill').attr('transform', `translate(${item.x},${item.y})`);
      g.append('rect').attr('x', 0).attr('y', -5).attr('width', LEGEND_SAMPLE_PX).attr('height', 10).attr('fill', item.fill.color).attr('fill-opacity', item.fill.opacity);
      g.append('text').attr('x', LEGEND_SAMPLE_PX + 5).attr('y', 4).attr('fill', CHART_INK.text).text(item.text);
      continue;
    }
    if (!item.line) {
      root.append('text').attr('x', item.x).attr('y', item.y + 4).attr('font-weight', 600).attr('font-size', TITLE_FONT_SIZE).attr('fill', CHART_INK.text).text(item.text);
      continue;
    }
    const g = root.append('g').attr('transform', `translate(${item.x},${item.y})`);
    g.append('line').attr('x1', 0).attr('x2', LEGEND_SAMPLE_PX).attr('y1', 0).attr('y2', 0).attr('stroke', item.line.color).attr('stroke-width', 2.5).attr('stroke-dasharray', item.line.dash.join(' ') || null);
    g.append('text').attr('x', LEGEND_SAMPLE_PX + 5).attr('y', 4).attr('fill', CHART_INK.text).text(item.text);
  }

  // The category strip along the x axis: one rect per row, its category's colour.
  if (model.strip) {
    const strip = root.append('g').attr('class', 'strip');
    for (const s of model.strip.segments) {
      strip.append('rect')
        .attr('class', 'strip-segment')
        .attr('data-step', s.step)
        .attr('data-category', spec.strip?.categories[s.category]?.label ?? s.category)
        .attr('x', s.x0).attr('width', s.x1 - s.x0)
        .attr('y', model.strip.y).attr('height', model.strip.height)
        .attr('fill', s.color)
        .append('title').text(`${spec.strip?.label ?? ''} at step ${s.step}: ${spec.strip?.categories[s.category]?.label ?? s.category}`);
    }
  }

  // Bands and lines as SVG paths (the SVG export; on screen they go on the canvas).
  if (options.linesAsPaths) {
    const clipId = `clip-${spec.id}`;
    root.append('clipPath').attr('id', clipId).append('rect')
      .attr('x', inner.left - CLIP_SLACK).attr('y', inner.top - CLIP_SLACK).attr('width', inner.width + 2 * CLIP_SLACK).attr('height', inner.height + 2 * CLIP_SLACK);
    const bands = root.append('g').attr('clip-path', `url(#${clipId})`).attr('stroke', 'none');
    for (const { spec: band, polygons } of model.bands) {
      for (const polygon of polygons) bands.append('path').attr('d', `${svgPathData(polygon)}Z`).attr('fill', band.color).attr('fill-opacity', BAND_OPACITY).attr('data-band', band.lower);
    }
    const paths = root.append('g').attr('clip-path', `url(#${clipId})`).attr('fill', 'none').attr('stroke-width', 2).attr('stroke-linejoin', 'round');
    for (const { spec: line, polyline } of model.lines) {
      paths.append('path').attr('d', svgPathData(polyline)).attr('stroke', line.color).attr('stroke-dasharray', line.dash.join(' ') || null).attr('data-series', line.key);
      if (model.dots) {
        for (const [x, y] of points(polyline)) paths.append('circle').attr('cx', x).attr('cy', y).attr('r', DOT_RADIUS).attr('fill', line.color).attr('stroke', 'none');
      }
    }
  }

  // Markers: hyperparameter changes, the grok step, divergences, each labelled in the band above the plot (laid out
  // by the model, where no data line crosses the text) and drawn from its label down to the x axis; key moments as
  // callouts (below).
  const markers = root.append('g').attr('class', 'markers');
  for (const { marker, px, x, y, width } of model.labels) {
    const color = MARKER_COLOR[marker.kind];
    const g = markers.append('g').attr('class', `marker marker-${marker.kind}`).attr('data-step', marker.step);
    g.append('line')
      .attr('x1', px).attr('x2', px)
      .attr('y1', y + MARKER_LABEL_HEIGHT - 2).attr('y2', inner.top + inner.height)
      .attr('stroke', color).attr('stroke-width', 1.5).attr('stroke-dasharray', marker.kind === 'hyper' ? '4 3' : null);
    const right = x < px; // laid out ending at its line (near the right edge)
    g.append('text')
      .attr('class', 'marker-label')
      .attr('x', right ? x + width - 3 : x + 3)
      .attr('y', y + MARKER_LABEL_HEIGHT - 3)
      .attr('text-anchor', right ? 'end' : 'start')
      .attr('font-size', MARKER_LABEL_FONT_SIZE)
      .attr('font-weight', 600)
      .attr('fill', color)
      .attr('paint-order', 'stroke')
      .attr('stroke', CHART_INK.background)
      .attr('stroke-width', 3)
      .text(marker.label);
  }
  // A callout: a solid line from its badge (above the plot, laid out by the model) to the x axis; the badge in the
  // moment's colour with dark text, readable on any Okabe-Ito colour.
  for (const { marker, kinds = [marker.kind], px, x, y, width } of model.callouts) {
    const color = MARKER_COLOR[marker.kind];
    const g = markers.append('g').attr('class', ['marker', 'marker-callout', ...kinds.map((k) => `marker-${k}`)].join(' ')).attr('data-step', marker.step);
    g.append('line')
      .attr('x1', px).attr('x2', px)
      .attr('y1', y + CALLOUT_HEIGHT).attr('y2', inner.top + inner.height)
      .attr('stroke', color).attr('stroke-width', 2.5);
    // Moments sharing the badge: its fill in their colours, side by side (hard stops).
    let fill = color;
    if (kinds.length > 1) {
      const id = `callout-${spec.id}-${marker.step}`;
      const gradient = g.append('defs').append('linearGradient').attr('id', id);
      kinds.forEach((kind, i) => {
        gradient.append('stop').attr('offset', i / kinds.length).attr('stop-color', MARKER_COLOR[kind]);
        gradient.append('stop').attr('offset', (i + 1) / kinds.length).attr('stop-color', MARKER_COLOR[kind]);
      });
      fill = `url(#${id})`;
    }
    g.append('rect')
      .attr('x', x).attr('y', y).attr('width', width).attr('height', CALLOUT_HEIGHT).attr('rx', 3)
      .attr('fill', fill).attr('stroke', CHART_INK.calloutText).attr('stroke-width', 0.75);
    g.append('text')
      .attr('x', x + width / 2)
      .attr('y', y + CALLOUT_HEIGHT / 2 + CALLOUT_FONT_SIZE * 0.36)
      .attr('text-anchor', 'middle')
      .attr('font-size', CALLOUT_FONT_SIZE)
      .attr('font-weight', 700)
      .attr('fill', CHART_INK.calloutText)
      .text(marker.label);
  }
}

/** Draws the lines of `model` on a canvas context whose transform maps figure pixels to device pixels. */
export function drawLines(ctx: CanvasRenderingContext2D, model: PlotModel): void {
  const { inner } = model;
  ctx.save();
  ctx.beginPath();
  ctx.rect(inner.left - CLIP_SLACK, inner.top - CLIP_SLACK, inner.width + 2 * CLIP_SLACK, inner.height + 2 * CLIP_SLACK);
  ctx.clip();
  for (const { spec, polygons } of model.bands) {
    ctx.fillStyle = spec.color;
    ctx.globalAlpha = BAND_OPACITY;
    for (const polygon of polygons) {
      ctx.beginPath();
      ctx.moveTo(polygon[0], polygon[1]);
      for (let i = 2; i < polygon.length; i += 2) ctx.lineTo(polygon[i], polygon[i + 1]);
      ctx.closePath();
      ctx.fill();
    }
    ctx.globalAlpha = 1;
  }
  ctx.lineWidth = 2;
  ctx.lineJoin = 'round';
  for (const { spec, polyline } of model.lines) {
    ctx.strokeStyle = spec.color;
    ctx.setLineDash(spec.dash as number[]);
    ctx.beginPath();
    for (const path of subPaths(polyline)) {
      ctx.moveTo(path[0], path[1]);
      if (path.length === 2) ctx.lineTo(path[0] + 0.5, path[1]);
      for (let i = 2; i < path.length; i += 2) ctx.lineTo(path[i], path[i + 1]);
    }
    ctx.stroke();
    if (model.dots) {
      ctx.fillStyle = spec.color;
      for (const [x, y] of points(polyline)) {
        ctx.beginPath();
        ctx.arc(x, y, DOT_RADIUS, 0, 2 * Math.PI);
        ctx.fill();
      }
    }
  }
  ctx.restore();
}

/** A detached SVG element drawn from the model (exports). */
export function detachedSvg(model: PlotModel, spec: ChartSpec, options: SvgOptions): SVGSVGElement {
  const svg = document.createElementNS(SVG_NS, 'svg');
  renderSvg(svg, model, spec, options);
  return svg;
}
