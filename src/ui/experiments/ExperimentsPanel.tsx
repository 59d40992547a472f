// The causal-experiments panel group: which experiments to run on the paused or finished run's model, the Run
// button (disabled with the reason when it cannot run), progress while the worker runs them, the analysis on show
// (a run can hold several, from different steps) with its JSON export, and the result cards.
import { useState } from 'react';
import { INTERVENTION_DEFAULTS, notForTask } from '../../analysis/experiments';
import { EXPERIMENTS } from '../../formats/experiments';
import type { AnalysisFile } from '../../formats/analysis-file';
import { shownAnalysisIndex } from '../../store/experiments-store';
import { useLab } from '../lab';
import { ExperimentCards } from './ExperimentCards';
import { cancelExperiments, experimentsStore, exportAnalysis, runExperiments, useExperiments } from './experiment-actions';
import {
  EXPERIMENT_INFO, PAGE_INTERVENTION_STEPS, analysisSummary, checkInterventionSteps, defaultSelection, interventionEstimate, plannedProgress, progressText,
  runBlocker, selectedExperiments, type Selection,
} from './experiment-data';

function ExperimentControls() {
  const status = useLab((s) => s.status);
  const config = useLab((s) => s.config);
  const spectralCount = useLab((s) => s.spectralCount);
  const stepRate = useLab((s) => s.stepRate);
  const request = useExperiments((s) => s.request);
  const error = useExperiments((s) => s.error);
  const cancelling = useExperiments((s) => s.cancelling);
  const kind = config?.task.kind ?? null;
  const [selection, setSelection] = useState<Selection>(() => defaultSelection(kind));
  // A run of another task: start again from its defaults (an experiment that cannot run there is never left ticked).
  const [selectionKind, setSelectionKind] = useState(kind);
  if (kind !== selectionKind) {
    setSelectionKind(kind);
    setSelection(defaultSelection(kind));
  }
  const [stepsText, setStepsText] = useState(String(PAGE_INTERVENTION_STEPS));
  const [chosenAt, setAt] = useState<'current' | 'grok'>('current');
  const grokStep = status.grokCheckpointStep;
  const at = grokStep === null ? 'current' : chosenAt;
  const atStep = at === 'grok' && grokStep !== null ? grokStep : status.step;
  const steps = checkInterventionSteps(stepsText);
  const chosen = selectedExperiments(selection, kind);
  const blocker = runBlocker({
    phase: status.phase,
    hasRun: config !== null,
    spectral: config ? config.spectral : null,
    spectralCount,
    step: status.step,
    busy: request !== null,
    selected: chosen.length,
    stepsOk: !selection['wd-intervention'] || steps.ok,
  });
  const run = () => void runExperiments(chosen, steps.ok ? steps.value : PAGE_INTERVENTION_STEPS, at);
  return (
    <div className="experiment-controls">
      {grokStep !== null && (
        <fieldset className="experiment-at" disabled={request !== null}>
          <legend>Which model</legend>
          <label>
            <input type="radio" name="experiment-at" checked={at === 'current'} onChange={() => setAt('current')} /> as it is now (step {status.step.toLocaleString('en')})
          </label>
          <label>
            <input type="radio" name="experiment-at" checked={at === 'grok'} onChange={() => setAt('grok')} data-testid="experiment-at-grok" /> as it was at the grok (step{' '}
            {grokStep.toLocaleString('en')})
          </label>
        </fieldset>
      )}
      <fieldset disabled={request !== null}>
        <legend>Experiments to run on the model at step {atStep.toLocaleString('en')}</legend>
        <ul className="experiment-choices">
          {EXPERIMENTS.map((name) => {
            const why = kind === null ? null : notForTask(name, kind);
            return (
              <li key={name}>
                <label>
                  <input
                    type="checkbox"
                    checked={selection[name] && why === null}
                    disabled={why !== null}
                    onChange={(e) => setSelection({ ...selection, [name]: e.target.checked })}
                    aria-describedby={why === null ? undefined : `not-for-task-${name}`}
                  />
                  <strong>{EXPERIMENT_INFO[name].label}</strong> <span className="muted">{EXPERIMENT_INFO[name].what}</span>
                </label>
                {why !== null && (
                  <span className="muted small not-for-task" id={`not-for-task-${name}`}>
                    {' '}
                    Does not apply to this run: {why}.
                  </span>
                )}
              </li>
            );
          })}
        </ul>
        {selection['wd-intervention'] && (
          <div className={`field inline${steps.ok ? '' : ' invalid'}`}>
            <label htmlFor="intervention-steps">Steps per weight-decay branch</label>
            <input
              id="intervention-steps"
              inputMode="numeric"
              value={stepsText}
              onChange={(e) => setStepsText(e.target.value)}
              aria-invalid={!steps.ok}
              aria-describedby={steps.ok ? 'intervention-estimate' : 'intervention-steps-error'}
            />
            {steps.ok ? (
              <span className="muted small" id="intervention-estimate" data-testid="intervention-estimate">
                {interventionEstimate(steps.value, INTERVENTION_DEFAULTS.weightDecays.length, stepRate)}
              </span>
            ) : (
              <span className="field-error" id="intervention-steps-error">
                {steps.message}
              </span>
            )}
          </div>
        )}
      </fieldset>
      <div className="button-row">
        <button type="button" className="primary" onClick={run} disabled={blocker !== null} aria-describedby={blocker && !request ? 'experiment-blocker' : undefined}>
          Run experiments
        </button>
        {request && (
          <button type="button" onClick={() => void cancelExperiments()} disabled={cancelling} data-testid="experiment-cancel">
            {cancelling ? 'Cancelling…' : 'Cancel'}
          </button>
        )}
      </div>
      {blocker && !request && (
        <p className="muted small" id="experiment-blocker">
          {blocker}
        </p>
      )}
      {request && (
        <div className="experiment-progress" role="status" aria-live="polite" data-testid="experiment-progress">
          <p>
            Running on the model at step {request.step.toLocaleString('en')}
            {status.experiment ? `: ${progressText(status.experiment)}` : '…'}
          </p>
          <ol>
            {plannedProgress(request.planned, status.experiment).map(({ name, state }) => (
              <li key={name} className={state}>
                {EXPERIMENT_INFO[name].label}
                <span className="muted"> ({state === 'done' ? 'done' : state === 'running' ? 'running' : 'waiting'})</span>
              </li>
            ))}
          </ol>
        </div>
      )}
      {error && (
        <p className="notice notice-error" role="alert">
          The experiments failed: {error}
        </p>
      )}
    </div>
  );
}

/** Which of the run's analyses is on show, what it is, and its export. */
function AnalysisChooser({ analyses, shown }: { analyses: readonly AnalysisFile[]; shown: number }) {
  const file = analyses[shown];
  return (
    <div className="analysis-header" data-testid="analysis-header">
      {analyses.length > 1 && (
        <label className="inline-select">
          Analysis{' '}
          <select value={shown} onChange={(e) => experimentsStore.getState().show(Number(e.target.value))}>
            {analyses.map((a, i) => (
              <option key={i} value={i}>
                step {a.at.step.toLocaleString('en')}: {Object.keys(a.experiments).join(', ')}
              </option>
            ))}
          </select>
        </label>
      )}
      <p className="muted small">{analysisSummary(file)}</p>
      <button type="button" onClick={() => exportAnalysis(file)}>
        Export analysis (JSON)
      </button>
    </div>
  );
}

export function ExperimentsPanel() {
  const analyses = useLab((s) => s.analyses);
  const current = useLab((s) => s.status.experiment);
  const request = useExperiments((s) => s.request);
  const shown = shownAnalysisIndex(
    useExperiments((s) => s.shown),
    analyses.length,
  );
  return (
    <section className="panel-group" aria-labelledby="experiments-title">
      <h2 id="experiments-title">Causal experiments</h2>
      <p className="group-intro">
        Pause the run (or let it finish), then test the edge directions of its latest spectral window: push the model along them, remove them, measure the curvature
        and what they encode, against random directions of the same size. The results are kept in the run and its export.
      </p>
      <ExperimentControls />
      {shown !== null && <AnalysisChooser analyses={analyses} shown={shown} />}
      <ExperimentCards file={shown === null ? null : analyses[shown]} progress={request && { planned: request.planned, current }} />
    </section>
  );
}
