// The "Causal, live" group: the live causal probes over training (ablation with the verdict strip, perturbation KL
// and loss change, curvature), filled as the worker streams the records, and the "curve at step" figure of one
// probe with a scrubber. The scrubber follows the latest probe until the user moves it back; moving it to the end
// (or pressing Latest) follows again. Markers: the run's own (hyperparameter changes, grok, divergence) on the charts
// over training, and on the scrubber's track, where the step axis is.
import { useEffect, useId, useMemo, useState } from 'react';
import { ChartGrid, currentFileBase, reportError } from '../ChartGrid';
import { TimeSeriesChart } from '../charts/TimeSeriesChart';
import type { Marker } from '../charts/plot-model';
import { tables, useLab } from '../lab';
import type { RunConfig } from '../../formats/run-file';
import { CURVE_MEASURES, CURVE_MEASURE_LABEL, causalCharts, curveChart, curveSource, type CurveMeasure } from './causal-charts';
import { scrubberState } from './scrubber';

const NO_MARKERS: readonly Marker[] = [];

function intro(config: RunConfig | null, count: number): string {
  if (!config) return 'Removing and nudging the edge directions while the run trains: what the edge does, not only what it looks like.';
  const c = config.causal;
  if (!c?.enabled) return 'This run has the live causal probes off: switch on “Live causal probes” in the run form and start again to see them here.';
  return (
    `Every ${c.every.toLocaleString('en')} steps, on ${c.sequences.toLocaleString('en')} fixed test sequences, the edge pair {v₁, v₂}, ` +
    `the bulk pair {v₃, v₄} and ${c.randomPairs} random pairs are removed from θ_attn, and the model is moved by ±ε along each ` +
    `(ε = ${c.epsRelative} ‖θ_attn‖): ${count} probe${count === 1 ? '' : 's'} so far.`
  );
}

const stepText = (step: number) => step.toLocaleString('en');

function CurveAtStep({ config, markers }: { config: RunConfig | null; markers: readonly Marker[] }) {
  const scrubberId = useId();
  const listId = useId();
  const count = useLab((s) => s.causalCount);
  const [measure, setMeasure] = useState<CurveMeasure>(CURVE_MEASURES[0]);
  /** The probe the user scrubbed back to (null: follow the latest). */
  const [pinned, setPinned] = useState<number | null>(null);
  useEffect(() => setPinned(null), [config]);
  const steps = tables.causalRecords.slice(0, count).map((r) => r.step);
  const scrubber = scrubberState(steps, pinned, markers);
  const { index } = scrubber;
  const spec = useMemo(() => curveChart(measure, config, scrubber.step), [measure, config, scrubber.step]);
  const source = useMemo(() => curveSource(tables.causalRecords, index, measure, () => tables.causal.version), [index, measure, count]); // eslint-disable-line react-hooks/exhaustive-deps
  const choose = (i: number) => setPinned(i >= count - 1 ? null : i);

  const tools = (
    <label className="toggle">
      <span className="sr-only">Curve of </span>
      <select value={measure} onChange={(e) => setMeasure(e.target.value as CurveMeasure)} data-testid="causal-curve-measure">
        {CURVE_MEASURES.map((m) => (
          <option key={m} value={m}>
            {CURVE_MEASURE_LABEL[m]}
          </option>
        ))}
      </select>
    </label>
  );

  return (
    <div className="causal-curve" data-testid="causal-curve" data-index={index} data-step={scrubber.step ?? ''} data-following={pinned === null}>
      <TimeSeriesChart spec={spec} source={source} markers={NO_MARKERS} fileBase={currentFileBase} onError={reportError} tools={tools}>
        <div className="scrubber">
          <label htmlFor={scrubberId}>Probe</label>
          <input
            id={scrubberId}
            type="range"
            min={0}
            max={Math.max(0, count - 1)}
            step={1}
            value={Math.max(0, index)}
            disabled={count < 2}
            list={scrubber.ticks.length > 0 ? listId : undefined}
            aria-valuetext={scrubber.step === null ? 'no probe yet' : `probe ${index + 1} of ${count}, step ${stepText(scrubber.step)}`}
            onChange={(e) => choose(Number(e.target.value))}
            data-testid="causal-scrubber"
          />
          <datalist id={listId}>
            {scrubber.ticks.map((t) => (
              <option key={`${t.index}-${t.label}`} value={t.index} label={t.label} />
            ))}
          </datalist>
          <button type="button" className="link" onClick={() => setPinned(null)} disabled={pinned === null} data-testid="causal-scrubber-latest">
            Latest
          </button>
          <output htmlFor={scrubberId} className="scrubber-text" aria-live="polite">
            {scrubber.text}
          </output>
        </div>
      </TimeSeriesChart>
    </div>
  );
}

export function LiveCausalPanel({ markers }: { markers: readonly Marker[] }) {
  const titleId = useId();
  const config = useLab((s) => s.config);
  const count = useLab((s) => s.causalCount);
  const charts = useMemo(() => causalCharts(config), [config]);
  return (
    <section className="panel-group" aria-labelledby={titleId} data-testid="live-causal">
      <h2 id={titleId}>Causal, live</h2>
      <p className="group-intro">{intro(config, count)}</p>
      <ChartGrid charts={charts} markers={markers}>
        <CurveAtStep config={config} markers={markers} />
      </ChartGrid>
    </section>
  );
}
