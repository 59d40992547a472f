// A chart's data as files: JSON (the chart's title, its x column and one array per plotted column: its lines, its
// bands' edges and its category strip, plus its markers) and CSV (one row per x, one column per plotted column,
// empty cells for missing values). Pure, so the page and the tests produce exactly the same text.
import type { ChartSpec } from './chart-spec';
import type { ChartData, Marker } from './plot-model';

export const CHART_DATA_KIND = 'spectral-edge-lab.chart';
export const CHART_DATA_VERSION = 1;

export interface ChartDataFile {
  kind: typeof CHART_DATA_KIND;
  version: typeof CHART_DATA_VERSION;
  chart: string;
  title: string;
  /** 'step', or the chart's own x quantity (the curve at a step: the perturbation size). */
  x: { label: string; values: number[] };
  /** null where a value is missing (JSON has no NaN). */
  series: { key: string; label: string; values: (number | null)[] }[];
  markers: Marker[];
}

const finiteOrNull = (v: number) => (Number.isFinite(v) ? v : null);

/** Every column a chart plots, with the label its files give it: lines, then each band's lower and upper edge, then the strip. */
export function plottedColumns(spec: ChartSpec): { key: string; label: string }[] {
  return [
    ...spec.lines.map((l) => ({ key: l.key, label: l.label })),
    ...(spec.bands ?? []).flatMap((b) => [
      { key: b.lower, label: `${b.label} (low)` },
      { key: b.upper, label: `${b.label} (high)` },
    ]),
    ...(spec.strip ? [{ key: spec.strip.key, label: `${spec.strip.label} (${spec.strip.categories.map((c, i) => `${i} ${c.label}`).join(', ')})` }] : []),
  ];
}

export function chartDataJson(spec: ChartSpec, data: ChartData, markers: readonly Marker[]): ChartDataFile {
  return {
    kind: CHART_DATA_KIND,
    version: CHART_DATA_VERSION,
    chart: spec.id,
    title: spec.title,
    x: { label: spec.xLabel ?? 'step', values: Array.from(data.x) },
    series: plottedColumns(spec).map((c) => ({ key: c.key, label: c.label, values: Array.from(data.y(c.key), finiteOrNull) })),
    markers: markers.map((m) => ({ ...m })),
  };
}

/** RFC 4180 quoting: a field with a comma, quote or newline is quoted, quotes doubled. */
const csvField = (text: string) => (/[",\n\r]/.test(text) ? `"${text.replaceAll('"', '""')}"` : text);

export function chartDataCsv(spec: ChartSpec, data: ChartData): string {
  const plotted = plottedColumns(spec);
  const columns = plotted.map((c) => data.y(c.key));
  const header = [spec.xLabel ?? 'step', ...plotted.map((c) => c.label)].map(csvField).join(',');
  const rows = Array.from(data.x, (x, i) => [x, ...columns.map((c) => c[i])].map((v) => (Number.isFinite(v) ? String(v) : '')).join(','));
  return [header, ...rows].join('\n') + '\n';
}
