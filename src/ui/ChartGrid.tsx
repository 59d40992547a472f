// A grid of the lab's time-series charts sharing one set of markers, over the page's series tables; and what every
// chart of the page shares: its sources, its export file names and where its errors go.
import type { ReactNode } from 'react';
import { chartSources } from './lab-charts';
import { TimeSeriesChart } from './charts/TimeSeriesChart';
import type { ChartSpec } from './charts/chart-spec';
import type { Marker } from './charts/plot-model';
import { fileBase, labStore, tables } from './lab';
import { PanelBoundary } from './PanelBoundary';

export const sources = chartSources(tables);
export const currentFileBase = () => {
  const { config, status } = labStore.getState();
  return fileBase(config, status.step);
};
export const reportError = (text: string) => labStore.getState().setNotice({ kind: 'error', text });

interface GridProps {
  charts: ChartSpec[];
  markers: readonly Marker[];
  /** Classroom mode's larger drawing. */
  zoom?: number;
  className?: string;
  /** More figures after the charts, in the same grid. */
  children?: ReactNode;
}

/** A grid of charts sharing one set of markers, each in its own error boundary. */
export function ChartGrid({ charts, markers, zoom, className = 'chart-grid', children }: GridProps) {
  return (
    <div className={className}>
      {charts.map((spec) => (
        <PanelBoundary key={spec.id} name={`the ${spec.title} chart`}>
          <TimeSeriesChart spec={spec} source={sources[spec.source]} markers={markers} fileBase={currentFileBase} onError={reportError} zoom={zoom} />
        </PanelBoundary>
      ))}
      {children}
    </div>
  );
}
