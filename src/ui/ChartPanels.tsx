// The chart panels: training (loss, accuracy, norms, per-task accuracy for multitask runs), the spectral edge
// (from the run's SpectralRecords, gap-flow terms included when the run measures them, and the stable ranks of
// W_Q and W_K, one line each per layer of the run's model), the live causal probes (src/ui/live-causal/) and the
// causal experiments (src/ui/experiments/). Every time-series chart is the one TimeSeriesChart component, fed by a
// spec (ChartGrid.tsx).
import { useMemo } from 'react';
import { SPECTRAL_CHARTS, markersOf, stableRankChart, trainingCharts } from './lab-charts';
import { ChartGrid } from './ChartGrid';
import { useLab } from './lab';
import { ExperimentsPanel } from './experiments/ExperimentsPanel';
import { ComparePanel } from './ComparePanel';
import { LiveCausalPanel } from './live-causal/LiveCausalPanel';
import { PanelBoundary } from './PanelBoundary';

export { ChartGrid };

export function ChartPanels() {
  const config = useLab((s) => s.config);
  const headNames = useLab((s) => s.headNames);
  const spectralCount = useLab((s) => s.spectralCount);
  const training = useMemo(() => trainingCharts(config, headNames), [config, headNames]);
  const spectral = useMemo(() => [...SPECTRAL_CHARTS, stableRankChart(config)], [config]);
  const events = useLab((s) => s.events);
  const markers = useMemo(() => markersOf(events), [events]);
  const edgeOff = config !== null && !config.spectral.enabled;
  const window = config?.spectral;
  return (
    <>
      <ComparePanel />
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
        <ChartGrid charts={spectral} markers={markers} />
      </section>
      <PanelBoundary name="live causal probes">
        <LiveCausalPanel markers={markers} />
      </PanelBoundary>
      <PanelBoundary name="causal experiments">
        <ExperimentsPanel />
      </PanelBoundary>
    </>
  );
}
