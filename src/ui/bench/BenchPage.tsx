// The bench page (bench.html): the training-step benchmark of `npm run bench`, run in the visitor's browser on
// their GPU (in a worker), with a table of its numbers and a button that copies the same JSON the CLI prints, so
// anyone can report what their laptop does.
import { useEffect, useState } from 'react';
import { PRESET_NAMES, type PresetName } from '../../formats/task';
import { QUICK_PRESETS, type BenchAdapter, type BenchReport, type PresetBench } from '../../formats/bench';
import { benchWorker, progressCallback } from './bench-client';
import { errorMessage } from '../../util/error-message';

type Phase = { kind: 'idle' } | { kind: 'running'; progress: string } | { kind: 'failed'; message: string };

const fmt = (x: number | null | undefined, digits = 3) => (x === null || x === undefined ? '—' : Number(x.toPrecision(digits)).toLocaleString('en'));

function grokText(r: PresetBench): string {
  if (!r.grok) return '—';
  const { grokStep, seconds, steps } = r.grok;
  return grokStep === null ? `no grok in ${steps.toLocaleString('en')} steps (${fmt(seconds)} s)` : `${fmt(seconds)} s (step ${grokStep.toLocaleString('en')})`;
}

export function BenchPage() {
  const [adapter, setAdapter] = useState<BenchAdapter | null>(null);
  const [adapterError, setAdapterError] = useState<string | null>(null);
  const [presets, setPresets] = useState<Set<PresetName>>(() => new Set(QUICK_PRESETS));
  const [grok, setGrok] = useState(true);
  const [detail, setDetail] = useState(false);
  const [steps, setSteps] = useState('');
  const [phase, setPhase] = useState<Phase>({ kind: 'idle' });
  const [report, setReport] = useState<BenchReport | null>(null);
  const [copied, setCopied] = useState<string | null>(null);

  useEffect(() => {
    benchWorker()
      .adapter()
      .then(
        (found) => {
          setAdapter(found);
          // Each preset's run to its grok takes minutes on a CPU: offered, not chosen.
          if (found.isSoftware) setGrok(false);
        },
        (e: unknown) => setAdapterError(errorMessage(e)),
      );
  }, []);

  const stepsValue = steps.trim() === '' ? undefined : Number(steps);
  const stepsInvalid = stepsValue !== undefined && !(Number.isInteger(stepsValue) && stepsValue >= 1 && stepsValue <= 10_000);
  const running = phase.kind === 'running';

  const run = async () => {
    setPhase({ kind: 'running', progress: 'starting…' });
    setCopied(null);
    try {
      const request = { presets: PRESET_NAMES.filter((n) => presets.has(n)), grok, detail, ...(stepsValue !== undefined && { steps: stepsValue }) };
      const result = await benchWorker().run(request, progressCallback((progress) => setPhase({ kind: 'running', progress })));
      setReport(result);
      setPhase({ kind: 'idle' });
    } catch (e) {
      setPhase({ kind: 'failed', message: errorMessage(e) });
    }
  };

  const copy = async () => {
    if (!report) return;
    const text = JSON.stringify(report, null, 2);
    try {
      await navigator.clipboard.writeText(text);
      setCopied('Copied the results as JSON.');
    } catch {
      setCopied('The browser refused the clipboard: select the JSON below and copy it.');
    }
  };

  const toggle = (name: PresetName) =>
    setPresets((s) => {
      const next = new Set(s);
      if (next.has(name)) next.delete(name);
      else next.add(name);
      return next;
    });

  return (
    <div className="bench">
      <header className="bench-header">
        <h1>Spectral Edge Lab · Benchmark</h1>
        <a href="./">Back to the lab</a>
      </header>
      <main>
        <p className="bench-intro">
          How fast does a small transformer train on this GPU? The same benchmark as <code>npm run bench</code>: each preset&apos;s
          training step, one step per submission and several (as the lab trains), and the time its default run takes to grok.
          Copy the results to report your machine.
        </p>
        <p className="bench-adapter" aria-live="polite">
          {adapter ? (
            <>
              Adapter: <strong>{adapter.description}</strong>
              {adapter.isSoftware && ' (a software adapter: expect seconds per step, and minutes per preset for “time to grok”)'}
            </>
          ) : adapterError ? (
            <span role="alert">No WebGPU here: {adapterError}</span>
          ) : (
            'Looking for a GPU…'
          )}
        </p>
        <form
          className="bench-form"
          onSubmit={(e) => {
            e.preventDefault();
            if (!running) void run();
          }}
        >
          <fieldset>
            <legend>Presets</legend>
            {PRESET_NAMES.map((name) => (
              <label key={name}>
                <input type="checkbox" checked={presets.has(name)} onChange={() => toggle(name)} disabled={running} /> {name}
              </label>
            ))}
          </fieldset>
          <fieldset>
            <legend>Options</legend>
            <label>
              <input type="checkbox" checked={grok} onChange={(e) => setGrok(e.target.checked)} disabled={running} /> time to grok
            </label>
            <label>
              <input type="checkbox" checked={detail} onChange={(e) => setDetail(e.target.checked)} disabled={running} /> kernel and overhead detail
            </label>
            <label>
              steps per measurement{' '}
              <input
                type="number" min={1} max={10000} placeholder="auto" value={steps} onChange={(e) => setSteps(e.target.value)} disabled={running}
                aria-invalid={stepsInvalid} className="bench-steps"
              />
            </label>
            {stepsInvalid && <span role="alert"> steps must be a whole number from 1 to 10,000</span>}
          </fieldset>
          <div className="bench-buttons">
            <button type="submit" disabled={running || presets.size === 0 || stepsInvalid || !!adapterError}>
              Run benchmark
            </button>
            {running && (
              <button type="button" onClick={() => void benchWorker().cancel()}>
                Cancel
              </button>
            )}
          </div>
        </form>
        <p className="bench-progress" role="status">
          {phase.kind === 'running' ? phase.progress : phase.kind === 'failed' ? `The benchmark stopped: ${phase.message}` : report ? `Done (${report.date}).` : ''}
        </p>
        {report && <ResultsTable report={report} />}
        {report && (
          <section className="bench-json" aria-label="Results as JSON">
            <button type="button" onClick={() => void copy()}>
              Copy results
            </button>
            <span role="status"> {copied}</span>
            <details>
              <summary>JSON</summary>
              <pre data-testid="bench-json">{JSON.stringify(report, null, 2)}</pre>
            </details>
          </section>
        )}
      </main>
    </div>
  );
}

function ResultsTable({ report }: { report: BenchReport }) {
  return (
    <table className="bench-table">
      <caption>
        {report.adapter.description}: ms per training step with one step per submission and with several (the lab&apos;s way); GPU
        idle time where the adapter has timestamp queries.
      </caption>
      <thead>
        <tr>
          <th scope="col">Preset</th>
          <th scope="col">Dispatches / step</th>
          <th scope="col">Steps / submission</th>
          <th scope="col">ms / step, 1 per submission</th>
          <th scope="col">ms / step, several</th>
          <th scope="col">Steps / s</th>
          <th scope="col">GPU idle ms / step</th>
          <th scope="col">GFLOP/s</th>
          <th scope="col">Time to grok</th>
        </tr>
      </thead>
      <tbody>
        {report.results.map((r) => (
          <tr key={r.preset} data-preset={r.preset}>
            <th scope="row">{r.preset}</th>
            <td>{r.dispatchesPerStep}</td>
            <td>
              {fmt(r.stepsPerSubmission)} <small>(timed {r.stepsPerSubmissionTimed})</small>
            </td>
            <td>{fmt(r.msPerStepK1)}</td>
            <td data-testid="ms-per-step">{fmt(r.msPerStep)}</td>
            <td>{fmt(r.stepsPerSecond)}</td>
            <td>{r.gpuIdleMsPerStep === null ? 'not measurable' : `${fmt(r.gpuIdleMsPerStepK1)} → ${fmt(r.gpuIdleMsPerStep)}`}</td>
            <td>{fmt(r.stepGflops)}</td>
            <td>{grokText(r)}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}
