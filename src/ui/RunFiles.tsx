// Sharing and keeping runs: the link that replays the configuration (the URL hash), exporting the whole run as a
// versioned JSON file and opening one, and the runs saved in this browser (IndexedDB), to reopen, compare or delete.
import { useEffect, useId, useRef, useState } from 'react';
import type { SavedRunSummary } from '../formats/worker';
import { encodeHash } from '../store/url-hash';
import { actions, useLab } from './lab';
import { compareSelected, compareStore, useCompare } from './ComparePanel';

export function ShareAndExport() {
  const hasRun = useLab((s) => s.status.phase !== 'idle' && s.status.phase !== 'failed' && s.status.phase !== 'preparing');
  const form = useLab((s) => s.form);
  const schedule = useLab((s) => s.schedule);
  const linkId = useId();
  const fileInput = useRef<HTMLInputElement>(null);
  const [copied, setCopied] = useState(false);
  const link = `${window.location.origin}${window.location.pathname}${encodeHash({ form, schedule })}`;
  const copy = async () => {
    try {
      await navigator.clipboard.writeText(link);
      setCopied(true);
      setTimeout(() => setCopied(false), 2000);
    } catch {
      document.getElementById(linkId)?.focus();
    }
  };
  return (
    <fieldset className="section share">
      <legend>Share &amp; export</legend>
      <div className="field">
        <label htmlFor={linkId}>Link to this configuration</label>
        <div className="inline">
          <input id={linkId} type="text" readOnly value={link} onFocus={(e) => e.target.select()} data-testid="share-link" />
          <button type="button" onClick={() => void copy()}>
            {copied ? 'Copied' : 'Copy'}
          </button>
        </div>
        <span className="field-hint">Preset, seed, settings and every mid-run change: opening it replays the run.</span>
      </div>
      <div className="button-row">
        <button type="button" onClick={() => void actions.exportRun()} disabled={!hasRun} data-testid="export-run" title="Export the run (E)">
          Export run (JSON)
        </button>
        <button type="button" onClick={() => fileInput.current?.click()}>
          Open run file…
        </button>
        <input
          ref={fileInput}
          type="file"
          accept=".json,application/json"
          hidden
          data-testid="open-run-file"
          onChange={(e) => {
            const file = e.target.files?.[0];
            if (file) void actions.importRunFile(file);
            e.target.value = '';
          }}
        />
      </div>
    </fieldset>
  );
}

const REFRESH_MS = 5000;

function savedLine(run: SavedRunSummary): string {
  const when = new Date(run.updatedAt).toLocaleString('en', { dateStyle: 'medium', timeStyle: 'short' });
  const grokModel = run.grokCheckpointStep == null ? '' : ` and at its grok`;
  const state = run.finished
    ? `${run.stopReason ?? 'finished'}, its model kept for experiments${grokModel}`
    : `resumable from step ${run.checkpointStep.toLocaleString('en')}`;
  const grok = run.grokStep === null ? '' : ` · grokked at ${run.grokStep.toLocaleString('en')}`;
  return `step ${run.step.toLocaleString('en')} of ${run.totalSteps.toLocaleString('en')} · ${state}${grok} · ${when}`;
}

export function SavedRuns() {
  const runs = useLab((s) => s.savedRuns);
  const selected = useCompare((s) => s.selected);
  const damaged = useLab((s) => s.damagedRuns);
  const currentId = useLab((s) => s.status.runId);
  const running = useLab((s) => s.status.phase === 'running');
  useEffect(() => {
    void actions.refreshSavedRuns();
    if (!running) return;
    const timer = setInterval(() => void actions.refreshSavedRuns(), REFRESH_MS);
    return () => clearInterval(timer);
  }, [running, currentId]);
  return (
    <section className="section saved-runs" aria-labelledby="saved-runs-title">
      <h2 id="saved-runs-title" className="legend">
        Saved runs
      </h2>
      {runs.length === 0 && damaged.length === 0 ? (
        <p className="muted">Runs are saved in this browser as they train (with their latest checkpoint), so a reload loses nothing.</p>
      ) : (
        <ul className="run-list" data-testid="saved-runs">
          {runs.map((run) => (
            <li key={run.id} className={run.id === currentId ? 'current' : undefined} data-run-id={run.id}>
              <label className="run-compare">
                <input type="checkbox" checked={selected.includes(run.id)} onChange={() => compareStore.getState().toggle(run.id)} aria-label={`Compare ${run.title}`} />
                <span className="run-title">{run.title}</span>
              </label>
              <span className="muted run-line">{savedLine(run)}</span>
              <span className="run-actions">
                <button type="button" onClick={() => void actions.openSavedRun(run.id)} disabled={run.id === currentId} aria-label={`${run.id === currentId ? 'Open now' : 'Open'} ${run.title}`}>
                  {run.id === currentId ? 'Open now' : 'Open'}
                </button>
                <button
                  type="button"
                  className="danger"
                  onClick={() => {
                    compareStore.getState().forget(run.id);
                    void actions.deleteSavedRun(run.id);
                  }}
                  aria-label={`Delete ${run.title}`}
                >
                  Delete
                </button>
              </span>
            </li>
          ))}
          {damaged.map((run) => (
            <li key={run.id} className="damaged" data-run-id={run.id} data-testid="damaged-run">
              <span className="run-title">Damaged saved run</span>
              <span className="muted run-line">
                {run.id}: {run.reason}. It cannot be opened.
              </span>
              <span className="run-actions">
                <button type="button" className="danger" onClick={() => void actions.deleteSavedRun(run.id)} aria-label={`Delete the damaged run ${run.id}`}>
                  Delete
                </button>
              </span>
            </li>
          ))}
        </ul>
      )}
      {runs.length >= 2 && (
        <div className="button-row">
          <button type="button" onClick={() => void compareSelected()} disabled={selected.length < 2} data-testid="compare-runs">
            Compare {selected.length >= 2 ? `${selected.length} runs` : 'ticked runs'}
          </button>
          {selected.length < 2 && <span className="muted small">Tick two or more runs to overlay them on the same charts.</span>}
        </div>
      )}
    </section>
  );
}
