// A chart's data as files: JSON (the chart's title, its x column and one array per line, plus its markers) and
// CSV (one row per step, one column per line, empty cells for missing values). Pure, so the page and the tests
// produce exactly the same text.
import type { ChartSpec } from './chart-spec';
import type { ChartData, Marker } from './plot-model';

export const CHART_DATA_KIND = 'spectral-edge-lab.chart';
export const CHART_DATA_VERSION = 1;

export interface ChartDataFile {
  kind: typeof CHART_DATA_KIND;
  version: typeof CHART_DATA_VERSION;
  chart: string;
  title: string;
  x: { label: 'step'; values: number[] };
  /** null where a value is missing (JSON has no NaN). */
  series: { key: string; label: string; values: (number | null)[] }[];
  markers: Marker[];
}

const finiteOrNull = (v: number) => (Number.isFinite(v) ? v : null);

export function chartDataJson(spec: ChartSpec, data: ChartData, markers: readonly Marker[]): ChartDataFile {
  return {
    kind: CHART_DATA_KIND,
    version: CHART_DATA_VERSION,
    chart: spec.id,
    title: spec.title,
    x: { label: 'step', values: Array.from(data.x) },
    series: spec.lines.map((l) => ({ key: l.key, label: l.label, values: Array.from(data.y(l.key), finiteOrNull) })),
    markers: markers.map((m) => ({ ...m })),
  };
}

/** RFC 4180 quoting: a field with a comma, quote or newline is quoted, quotes doubled. */
const csvField = (text: string) => (/[",\n\r]/.test(text) ? `"${text.replaceAll('"', '""')}"` : text);

export function chartDataCsv(spec: ChartSpec, data: ChartData): string {
  const columns = spec.lines.map((l) => data.y(l.key));
  const header = ['step', ...spec.lines.map((l) => l.label)].map(csvField).join(',');
  const rows = Array.from(data.x, (x, i) => [x, ...columns.map((c) => c[i])].map((v) => (Number.isFinite(v) ? String(v) : '')).join(','));
  return [header, ...rows].join('\n') + '\n';
}
