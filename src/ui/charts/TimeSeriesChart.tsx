// The one time-series chart of the lab: axes, grid, legend and markers in SVG via d3, the lines on a canvas
// (min/max per pixel column, so long series stay cheap), redrawn on an animation frame only when the data's
// version, the markers, the size or the axis options changed. Every chart exports itself as PNG (2x), SVG, JSON
// and CSV. Before it has a point to draw it shows its spec's empty text instead of bare axes.
import { useEffect, useId, useRef, useState, type ReactNode } from 'react';
import type { ChartSpec } from './chart-spec';
import { buildPlotModel, type ChartData, type Marker, type PlotModel } from './plot-model';
import { drawLines, renderSvg } from './plot-render';
import { exportChart, type ChartExportFormat } from './chart-export';
import { onEveryFrame } from './frame-loop';
import { ExportMenu, type ExportChoice } from './ExportMenu';
import { errorMessage } from '../../util/error-message';

/** Where a chart's numbers come from: a version that changes with every write, and the data as it is now. */
export interface ChartSource {
  version(): number;
  data(): ChartData;
}

interface Props {
  spec: ChartSpec;
  source: ChartSource;
  markers: readonly Marker[];
  /** Exported files are named `${fileBase()}-${spec.id}.${format}`. */
  fileBase(): string;
  onError(message: string): void;
  /**
   * Draws everything (text, lines, margins) up to this many times larger: the plot is laid out for a smaller
   * figure and scaled up (classroom mode, for a projector), but never laid out smaller than MIN_LAYOUT, so a small
   * figure keeps room to plot. Exports keep the laid-out size.
   */
  zoom?: number;
  /** More controls in the header, before the export menu (a measure toggle). */
  tools?: ReactNode;
  /** Shown under the figure (a scrubber). */
  children?: ReactNode;
}

const FORMATS: ExportChoice<ChartExportFormat>[] = [
  { format: 'png', label: 'PNG', what: 'image, twice the screen size' },
  { format: 'svg', label: 'SVG', what: 'vector image' },
  { format: 'json', label: 'JSON', what: 'data' },
  { format: 'csv', label: 'CSV', what: 'data table' },
];

function describeLatest(spec: ChartSpec, data: ChartData): string {
  if (data.length === 0) return `${spec.title}: ${spec.emptyText}`;
  const i = data.length - 1;
  const values = spec.lines.map((l) => `${l.label} ${formatValue(data.y(l.key)[i])}`).join(', ');
  if (spec.xLabel) return `${spec.title}, ${spec.xLabel} ${formatValue(data.x[0])} to ${formatValue(data.x[i])}: at the last point ${values} (${data.length} points)`;
  return `${spec.title} at step ${data.x[i]}: ${values} (${data.length} points)`;
}

/** The smallest layout a zoomed chart is drawn from (below it, it zooms less). */
const MIN_LAYOUT = { width: 360, height: 200 };
const zoomFor = (most: number, width: number, height: number) => Math.max(1, Math.min(most, width / MIN_LAYOUT.width, height / MIN_LAYOUT.height));

const formatValue = (v: number) => (Number.isFinite(v) ? Number(v.toPrecision(4)).toString() : 'n/a');

export function TimeSeriesChart({ spec, source, markers, fileBase, onError, zoom = 1, tools, children }: Props) {
  const titleId = useId();
  const figureRef = useRef<HTMLDivElement>(null);
  const svgRef = useRef<SVGSVGElement>(null);
  const canvasRef = useRef<HTMLCanvasElement>(null);
  const modelRef = useRef<PlotModel | null>(null);
  const [logX, setLogX] = useState(false);
  /** What the chart says instead of drawing (null: it draws). */
  const [emptyText, setEmptyText] = useState<string | null>(spec.emptyText);
  const empty = emptyText !== null;

  useEffect(() => {
    let drawn = '';
    return onEveryFrame(() => {
      const figure = figureRef.current;
      const svg = svgRef.current;
      const canvas = canvasRef.current;
      if (!figure || !svg || !canvas) return false;
      const width = figure.clientWidth;
      const height = figure.clientHeight;
      const dpr = window.devicePixelRatio || 1;
      const key = `${source.version()} ${width} ${height} ${dpr}`;
      if (key === drawn || width === 0) return false;
      drawn = key;
      const data = source.data();
      // The SVG's viewBox is the model's size and CSS stretches it over the figure: the zoom scales the SVG layer.
      const z = zoomFor(zoom, width, height);
      const model = buildPlotModel(spec, data, markers, { width: width / z, height: height / z, logX });
      modelRef.current = model;
      // A legend, badges and labels that leave the plot too little room make the figure taller (the next frame redraws).
      const minHeight = model ? `${Math.ceil(model.minHeight * z)}px` : '';
      if (figure.style.minHeight !== minHeight) figure.style.minHeight = minHeight;
      figure.dataset.points = String(data.length);
      figure.dataset.markers = String(model?.markers.length ?? 0);
      figure.setAttribute('aria-label', describeLatest(spec, data));
      setEmptyText(model ? null : data.length === 0 ? spec.emptyText : (spec.noValuesText ?? 'Nothing to plot for this run yet.'));
      const ctx = canvas.getContext('2d');
      // Resizing a canvas reallocates it: only when the figure's size changed.
      const [w, h] = [Math.round(width * dpr), Math.round(height * dpr)];
      if (canvas.width !== w || canvas.height !== h) [canvas.width, canvas.height] = [w, h];
      ctx?.setTransform(1, 0, 0, 1, 0, 0);
      ctx?.clearRect(0, 0, w, h);
      if (!model || !ctx) {
        svg.replaceChildren();
        return true;
      }
      renderSvg(svg, model, spec);
      ctx.setTransform(dpr * z, 0, 0, dpr * z, 0, 0);
      drawLines(ctx, model);
      return true;
    });
  }, [spec, source, markers, logX, zoom]);

  const exportAs = (format: ChartExportFormat) => {
    const model = modelRef.current;
    if (!model) return;
    exportChart(format, spec, model, source.data(), markers, fileBase()).catch((error: unknown) =>
      onError(`Could not export “${spec.title}” as ${format.toUpperCase()}: ${errorMessage(error)}`),
    );
  };

  return (
    <section className="chart-card" aria-labelledby={titleId} data-chart={spec.id}>
      <header className="chart-header">
        <h3 id={titleId}>{spec.title}</h3>
        <div className="chart-tools">
          {spec.xLabel === undefined && (
            <label className="toggle" title="Show steps on a logarithmic axis">
              <input type="checkbox" checked={logX} onChange={(e) => setLogX(e.target.checked)} />
              log step<span className="sr-only"> axis of {spec.title}</span>
            </label>
          )}
          {tools}
          <ExportMenu title={spec.title} choices={FORMATS.map((f) => ({ ...f, disabled: empty }))} onChoose={exportAs} />
        </div>
      </header>
      <p className="chart-description">{spec.description}</p>
      <div className="figure" ref={figureRef} role="img" data-testid={`chart-${spec.id}`} data-points="0" data-markers="0">
        <svg ref={svgRef} aria-hidden="true" />
        <canvas ref={canvasRef} aria-hidden="true" />
        {emptyText !== null && <p className="chart-empty">{emptyText}</p>}
      </div>
      {children}
    </section>
  );
}
