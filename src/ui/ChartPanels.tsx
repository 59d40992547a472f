// The chart panels: training (loss, accuracy, norms, per-task accuracy for multitask runs), the spectral edge
// (from the run's SpectralRecords, gap-flow terms included when the run measures them; the stable rank, still to
// come, says so instead of showing empty axes) and the causal experiments (src/ui/experiments/). Every time-series
// chart is the one TimeSeriesChart component, fed by a spec.
import { useMemo } from 'react';
import { SPECTRAL_CHARTS, chartSources, markersOf, trainingCharts } from './lab-charts';
import { TimeSeriesChart } from './charts/TimeSeriesChart';
import type { ChartSpec } from './charts/chart-spec';
import type { Marker } from './charts/plot-model';
import { fileBase, labStore, tables, useLab } from './lab';
import { ExperimentsPanel } from './experiments/ExperimentsPanel';

const sources = chartSources(tables);
const currentFileBase = () => {
  const { config, status } = labStore.getState();
  return fileBase(config, status.step);
};
const reportError = (text: string) => labStore.getState().setNotice({ kind: 'error', text });

/** A grid of charts sharing one set of markers (`zoom`: classroom mode's larger drawing). */
export function ChartGrid({ charts, markers, zoom, className = 'chart-grid' }: { charts: ChartSpec[]; markers: readonly Marker[]; zoom?: number; className?: string }) {
  return (
    <div className={className}>
      {charts.map((spec) => (
        <TimeSeriesChart key={spec.id} spec={spec} source={sources[spec.source]} markers={markers} fileBase={currentFileBase} onError={reportError} zoom={zoom} />
      ))}
    </div>
  );
}

function Placeholder({ title, text, testId }: { title: string; text: string; testId: string }) {
  return (
    <section className="chart-card placeholder" aria-label={title} data-testid={testId}>
      <header className="chart-header">
        <h3>{title}</h3>
      </header>
      <p className="chart-empty static">{text}</p>
    </section>
  );
}

export function ChartPanels() {
  const config = useLab((s) => s.config);
  const headNames = useLab((s) => s.headNames);
  const spectralCount = useLab((s) => s.spectralCount);
  const training = useMemo(() => trainingCharts(config, headNames), [config, headNames]);
  const events = useLab((s) => s.events);
  const markers = useMemo(() => markersOf(events), [events]);
  const edgeOff = config !== null && !config.spectral.enabled;
  const window = config?.spectral;
  return (
    <>
      <section className="panel-group" aria-labelledby="training-title">
        <h2 id="training-title">Training</h2>
        <ChartGrid charts={training} markers={markers} />
      </section>
      <section className="panel-group" aria-labelledby="spectral-title">
        <h2 id="spectral-title">Spectral edge</h2>
        <p className="group-intro">
          {edgeOff
            ? 'This run does not track the spectral edge.'
            : window
              ? `Every ${window.snapshotEvery} steps the update of θ_attn is taken; each window of the last ${window.window} updates gives one record (${spectralCount} so far).`
              : 'The singular values of a window of recent parameter updates, and what drives them: gradient or weight decay.'}
        </p>
        <ChartGrid charts={SPECTRAL_CHARTS} markers={markers} />
        <div className="chart-grid">
          <Placeholder
            title="Stable rank of W_Q and W_K"
            testId="panel-stable-rank"
            text="Not computed yet — arrives with Low-Rank Decay, which tracks the stable rank ‖W‖²_F / ‖W‖²₂ of the query and key matrices at every snapshot."
          />
        </div>
      </section>
      <ExperimentsPanel />
    </>
  );
}
