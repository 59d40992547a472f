// Exporting a chart from the page: SVG (axes and lines as paths), PNG at twice the on-screen size (the SVG layer
// rasterised and the lines drawn again on the same canvas at 2x, so they stay sharp), and its data as JSON and
// CSV, each offered as a download. The SVG-only figures of the experiment panels (src/ui/experiments/) use the same
// serialisation and rasterisation (svgDocumentText, rasteriseSvg) and download.
import type { ChartSpec } from './chart-spec';
import { chartDataCsv, chartDataJson } from './chart-data';
import { CHART_INK } from './palette';
import { buildPlotModel, type ChartData, type Marker, type PlotModel } from './plot-model';
import { detachedSvg, drawLines } from './plot-render';

export const PNG_SCALE = 2;

/** The screen's plot again, with the chart's title in its legend band (same size, so the PNG is exactly 2x). */
function exportModel(model: PlotModel, spec: ChartSpec, data: ChartData, markers: readonly Marker[]): PlotModel {
  const titled = buildPlotModel(spec, data, markers, { width: model.width, height: model.height, logX: model.logX, title: spec.title });
  if (!titled) throw new Error('the chart has nothing to export yet');
  return titled;
}

/** An SVG element as a standalone SVG file's text. */
export function svgDocumentText(svg: SVGSVGElement): string {
  return `<?xml version="1.0" encoding="UTF-8"?>\n${new XMLSerializer().serializeToString(svg)}`;
}

export function svgText(model: PlotModel, spec: ChartSpec): string {
  return svgDocumentText(detachedSvg(model, spec, { title: spec.title, linesAsPaths: true, background: true }));
}

/**
 * An SVG element of `width` x `height` (its own units) as a PNG of PNG_SCALE times that size, on the chart
 * background; `overlay` then draws on the same canvas in the SVG's units (the time-series lines).
 */
export async function rasteriseSvg(svg: SVGSVGElement, width: number, height: number, overlay?: (ctx: CanvasRenderingContext2D) => void): Promise<Blob> {
  const image = new Image();
  image.src = `data:image/svg+xml;charset=utf-8,${encodeURIComponent(new XMLSerializer().serializeToString(svg))}`;
  await image.decode();
  const canvas = document.createElement('canvas');
  canvas.width = Math.round(width * PNG_SCALE);
  canvas.height = Math.round(height * PNG_SCALE);
  const ctx = canvas.getContext('2d');
  if (!ctx) throw new Error('this browser cannot draw on a canvas, so the chart cannot be exported as PNG');
  ctx.fillStyle = CHART_INK.background;
  ctx.fillRect(0, 0, canvas.width, canvas.height);
  ctx.drawImage(image, 0, 0, canvas.width, canvas.height);
  ctx.setTransform(PNG_SCALE, 0, 0, PNG_SCALE, 0, 0);
  overlay?.(ctx);
  return new Promise((resolve, reject) => canvas.toBlob((blob) => (blob ? resolve(blob) : reject(new Error('the PNG could not be encoded'))), 'image/png'));
}

/** The chart as a PNG of PNG_SCALE times its on-screen size. */
export function pngBlob(model: PlotModel, spec: ChartSpec): Promise<Blob> {
  return rasteriseSvg(detachedSvg(model, spec, { title: spec.title, background: true }), model.width, model.height, (ctx) => drawLines(ctx, model));
}

/** Offers `blob` as a download named `filename`. */
export function download(blob: Blob, filename: string): void {
  const url = URL.createObjectURL(blob);
  const a = document.createElement('a');
  a.href = url;
  a.download = filename;
  a.style.display = 'none';
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}

/** Offers `value` as a JSON file (indented). */
export function downloadJson(value: unknown, filename: string): void {
  download(new Blob([JSON.stringify(value, null, 2)], { type: 'application/json' }), filename);
}

export type ChartExportFormat = 'png' | 'svg' | 'json' | 'csv';

export async function exportChart(fmt: ChartExportFormat, spec: ChartSpec, screen: PlotModel, data: ChartData, markers: readonly Marker[], baseName: string): Promise<void> {
  const name = `${baseName}-${spec.id}.${fmt}`;
  const model = exportModel(screen, spec, data, markers);
  switch (fmt) {
    case 'png':
      return download(await pngBlob(model, spec), name);
    case 'svg':
      return download(new Blob([svgText(model, spec)], { type: 'image/svg+xml' }), name);
    case 'json':
      return download(new Blob([JSON.stringify(chartDataJson(spec, data, markers), null, 2)], { type: 'application/json' }), name);
    case 'csv':
      return download(new Blob([chartDataCsv(spec, data)], { type: 'text/csv' }), name);
  }
}
