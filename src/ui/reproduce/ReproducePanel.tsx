// "Reproduce the papers": choose a study (src/reproduce/), run it in the worker on this GPU, and watch its report's
// tables fill in unit by unit: the published value (or, for quick studies, this lab's earlier measurement), this
// lab's mean ± sd over seeds, and the verdict; then export report.md, report.json and the figures. The same plans,
// runner and report as `npm run reproduce`. Folded by default; not part of the classroom view.
import { useEffect, useState } from 'react';
import { STUDY_NAMES, type StudyName } from '../../reproduce/study';
import type { ReportRow } from '../../reproduce/report';
import { formatSummary } from '../../reproduce/compare';
import { formatDuration } from '../../cli/progress';
import { reproduceActions, useReproduce } from './reproduce-actions';

const STUDY_TEXT: Record<StudyName, string> = {
  'lifecycle-dyck': 'Dyck lifecycle: grok, gradient/decay split, ablations, probes, decay intervention',
  'lifecycle-scan': 'SCAN lifecycle (very slow without a real GPU)',
  'modes-modarith': 'Functional modes and the g23 decline on modular arithmetic',
  'modes-multitask': 'Multitask heads: grok step per head, modes of the shared edge',
  'lrd-phase': 'Low-Rank Decay phase diagram against L2',
};

function RowView({ row }: { row: ReportRow }) {
  const status = row.verdict?.status ?? 'none';
  return (
    <tr className={`verdict-${status}`} data-measured={row.lab.n > 0 ? 'yes' : 'no'}>
      <th scope="row">{row.quantity}</th>
      <td title={row.reference ? `${row.reference.source}${'note' in row.reference && row.reference.note ? `; ${row.reference.note}` : ''}` : undefined}>{row.reference?.text ?? '–'}</td>
      <td>{row.lab.n > 0 ? formatSummary(row.lab) : 'not measured'}</td>
      <td>{row.verdict ? row.verdict.text : 'no reference'}</td>
    </tr>
  );
}

function Progress() {
  const phase = useReproduce((s) => s.phase);
  const progress = useReproduce((s) => s.progress);
  if (phase !== 'running' && phase !== 'cancelling') return null;
  return (
    <p className="muted small" role="status" aria-live="polite" data-testid="reproduce-progress">
      {phase === 'cancelling'
        ? 'Cancelling at the next step (the unit in progress is dropped; finished units are kept)…'
        : progress
          ? `Unit ${progress.done + 1} of ${progress.total}: ${progress.unit}, step ${progress.step} of ${progress.totalSteps}${progress.analysing ? `, ${progress.analysing}` : ''}${progress.etaMs !== null ? `; study ETA ${formatDuration(progress.etaMs)}` : ''}`
          : 'Starting (the first unit builds its GPU pipelines)…'}
    </p>
  );
}

export function ReproducePanel() {
  const [open, setOpen] = useState(false);
  const request = useReproduce((s) => s.request);
  const view = useReproduce((s) => s.view);
  const phase = useReproduce((s) => s.phase);
  const error = useReproduce((s) => s.error);
  const choose = useReproduce((s) => s.choose);
  const busy = phase === 'running' || phase === 'cancelling';

  useEffect(() => {
    if (open) void reproduceActions.plan();
  }, [open, request]);

  const finished = view?.units.filter((u) => u.done).length ?? 0;
  const compared = request.quick ? 'this lab, earlier' : 'published';
  return (
    <details className="section reproduce" open={open} onToggle={(e) => setOpen(e.currentTarget.open)} data-testid="reproduce">
      <summary>Reproduce the papers</summary>
      <p className="small">
        Runs one of the papers’ studies on this GPU, unit by unit (one seed × one setting), and sets each quantity beside the published value (quick studies: beside this
        lab’s earlier measurement on the quick presets). The same studies and report as <code>npm run reproduce</code>; full studies take hours even on a fast GPU.
      </p>
      <fieldset className="reproduce-choice" disabled={busy}>
        <label className="inline-select">
          Study{' '}
          <select value={request.study} onChange={(e) => choose({ study: e.target.value as StudyName })}>
            {STUDY_NAMES.map((name) => (
              <option key={name} value={name}>
                {name}: {STUDY_TEXT[name]}
              </option>
            ))}
          </select>
        </label>
        <label>
          <input type="checkbox" checked={request.quick} onChange={(e) => choose({ quick: e.target.checked })} /> Quick variant (quick presets, one seed)
        </label>
        <label>
          <input type="checkbox" checked={request.abbreviated} onChange={(e) => choose({ abbreviated: e.target.checked })} /> Abbreviated run (a smoke test: every unit
          a few steps; not a reproduction)
        </label>
      </fieldset>
      {view && (
        <p className="muted small" data-testid="reproduce-plan">
          {view.label}: {view.units.length} unit{view.units.length === 1 ? '' : 's'}, {view.steps.toLocaleString('en')} training steps, at least {formatDuration(view.lowerBoundMs)} on an
          H100 (training steps only); {finished} finished{view.restored > 0 && ` (${view.restored} kept in this browser from an earlier visit)`}.
          {view.report.stepsOverride !== null && <strong> Every unit shortened to {view.report.stepsOverride} steps: a smoke test, not a reproduction.</strong>}
        </p>
      )}
      <div className="button-row">
        <button type="button" className="primary" onClick={() => void reproduceActions.run()} disabled={busy || !view || finished === view.units.length}>
          {finished > 0 && view && finished < view.units.length ? 'Continue' : 'Run'}
        </button>
        <button type="button" onClick={() => void reproduceActions.cancel()} disabled={phase !== 'running'}>
          Cancel
        </button>
        <button type="button" className="danger" onClick={() => void reproduceActions.discard()} disabled={busy || !view || (finished === 0 && view.storageProblems.length === 0)}>
          Discard finished units
        </button>
        <button type="button" onClick={reproduceActions.exportMarkdown} disabled={!view || finished === 0}>
          Export report.md
        </button>
        <button type="button" onClick={reproduceActions.exportJson} disabled={!view || finished === 0}>
          Export report.json
        </button>
      </div>
      <Progress />
      {phase === 'stopped' && <p className="muted small">Stopped: {finished} unit{finished === 1 ? '' : 's'} kept; Continue runs the rest.</p>}
      {error && (
        <p className="notice notice-error" role="alert">
          {error}
        </p>
      )}
      {view && view.storageProblems.length > 0 && (
        <ul className="notice small" data-testid="reproduce-storage">
          {view.storageProblems.map((line) => (
            <li key={line}>{line}</li>
          ))}
        </ul>
      )}
      {view &&
        view.report.tables.map((table) => (
          <table key={table.title} className="data-table reproduce-table">
            <caption>{table.title}</caption>
            <thead>
              <tr>
                <th scope="col">quantity</th>
                <th scope="col">{compared}</th>
                <th scope="col">this lab, mean ± sd</th>
                <th scope="col">verdict</th>
              </tr>
            </thead>
            <tbody>
              {table.rows.map((row) => (
                <RowView key={row.quantity} row={row} />
              ))}
            </tbody>
          </table>
        ))}
      {view && view.figures.length > 0 && (
        <div className="reproduce-figures">
          {view.figures.map(([name, svg]) => (
            <figure key={name}>
              <img src={`data:image/svg+xml;charset=utf-8,${encodeURIComponent(svg)}`} alt={name} width={640} height={360} />
              <figcaption>
                <button type="button" className="link" onClick={() => reproduceActions.exportFigure(name)}>
                  Export {name}
                </button>
              </figcaption>
            </figure>
          ))}
        </div>
      )}
    </details>
  );
}
