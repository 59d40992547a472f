// The compare panel: two or more saved runs overlaid on the same charts (src/ui/comparison.ts), one line per run
// with a legend naming what differs, their grok steps marked; every chart exports its overlay like any other.
import { useMemo } from 'react';
import { useStore } from 'zustand';
import { createCompareStore, type ComparedRun, type CompareState } from '../store/compare-store';
import { TimeSeriesChart, type ChartSource } from './charts/TimeSeriesChart';
import { MAX_COMPARED, comparisonCharts, comparisonLabels, comparisonMarkers } from './comparison';
import { labStore, runDb } from './lab';
import { errorMessage } from '../util/error-message';

export const compareStore = createCompareStore();

export function useCompare<T>(selector: (state: CompareState) => T): T {
  return useStore(compareStore, selector);
}

const reportError = (text: string) => labStore.getState().setNotice({ kind: 'error', text });

/** Reads the ticked runs from the run store and shows them overlaid. */
export async function compareSelected(): Promise<void> {
  const { selected, show } = compareStore.getState();
  if (selected.length < 2) return reportError('Tick at least two saved runs to compare them.');
  if (selected.length > MAX_COMPARED) return reportError(`At most ${MAX_COMPARED} runs can be compared at once (one colour each); ${selected.length} are ticked.`);
  try {
    const runs: ComparedRun[] = [];
    for (const id of selected) runs.push({ id, file: (await runDb.get(id)).runFile });
    show(runs);
  } catch (error) {
    reportError(`Could not compare the runs: ${errorMessage(error)}`);
  }
}

export function ComparePanel() {
  const runs = useCompare((s) => s.runs);
  const charts = useMemo(() => (runs ? comparisonCharts(runs) : []), [runs]);
  const markers = useMemo(() => (runs ? comparisonMarkers(runs) : []), [runs]);
  if (!runs) return null;
  const labels = comparisonLabels(runs.map((r) => r.file));
  const fileBase = () => `compare-${runs.length}-runs`;
  return (
    <section className="panel-group compare" aria-labelledby="compare-title" data-testid="compare-panel">
      <div className="compare-header">
        <h2 id="compare-title">Comparing {runs.length} runs</h2>
        <button type="button" onClick={() => compareStore.getState().show(null)}>
          Close comparison
        </button>
      </div>
      <p className="group-intro">
        {runs.map((r, i) => `${labels[i]}: ${r.file.config.preset}, seed ${r.file.config.seed}, ${r.file.summary.steps.toLocaleString('en')} steps`).join('; ')}.
      </p>
      <div className="chart-grid">
        {charts.map(({ spec, data }) => {
          const source: ChartSource = { version: () => 1, data: () => data };
          return <TimeSeriesChart key={`${spec.id}-${runs.map((r) => r.id).join()}`} spec={spec} source={source} markers={markers} fileBase={fileBase} onError={reportError} />;
        })}
      </div>
    </section>
  );
}
