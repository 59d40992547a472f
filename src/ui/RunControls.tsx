// Run controls: the run bar's buttons (start, pause/resume, step, step to the next evaluation, reset), always in
// view at the top of the page, and the live controls that act on the running model at its next step: a
// weight-decay slider (sent when it is let go, so a drag makes one change and one marker) and a learning-rate
// field. The engine's values are shown in the status bar.
import { useEffect, useId, useRef, useState } from 'react';
import { checkRate } from '../store/run-form';
import { actions, labStore, useLab } from './lab';

/** How long after the slider is let go (or its last key press) the value is sent: one change per drag, not per pixel. */
const SLIDER_SETTLE_MS = 300;
const WD_MAX = 2;

/**
 * The run bar's buttons. `canTrain`: false when the page already knows WebGPU is missing (starting would only fail).
 * In classroom mode Start starts the walkthrough's run (CLASSROOM_RUN, quick-dyck), the one the charts and the walkthrough narrate,
 * and the bar keeps to Start, Pause/Resume and Step (R and > still reset and step to the next evaluation).
 */
export function RunButtons({ canTrain }: { canTrain: boolean }) {
  const phase = useLab((s) => s.status.phase);
  const hasRun = useLab((s) => s.status.runId !== null);
  const classroom = useLab((s) => s.classroom);
  const busy = phase === 'preparing' || phase === 'recovering';
  const canStep = phase === 'paused';
  const start = classroom ? actions.startWalkthroughRun : actions.start;
  return (
    <div className="run-buttons" role="group" aria-label="Run">
      <button type="button" className="primary" onClick={() => void start()} disabled={busy || !canTrain} data-testid="start" title="Start a new run with these settings (N)">
        {hasRun ? 'New run' : 'Start'}
      </button>
      {phase === 'running' ? (
        <button type="button" onClick={() => void actions.pause()} data-testid="pause" title="Pause (Space)">
          Pause
        </button>
      ) : (
        <button type="button" onClick={() => void actions.resume()} disabled={phase !== 'paused'} data-testid="resume" title="Resume (Space)">
          Resume
        </button>
      )}
      <button type="button" onClick={() => void actions.step(1)} disabled={!canStep} data-testid="step" title="One optimiser step (.)">
        Step
      </button>
      <button type="button" className="lab-only" onClick={() => void actions.stepToEvaluation()} disabled={!canStep} data-testid="step-eval" title="Train to the next evaluation (>)">
        Step to eval
      </button>
      <button type="button" className="lab-only" onClick={() => void actions.reset()} disabled={busy || phase === 'idle'} data-testid="reset" title="End the run and clear the charts (R)">
        Reset
      </button>
    </div>
  );
}

export function LiveControls() {
  const phase = useLab((s) => s.status.phase);
  const optim = useLab((s) => s.status.optim);
  const runId = useLab((s) => s.status.runId);
  const live = (phase === 'running' || phase === 'paused') && optim !== null;
  const wdId = useId();
  const lrId = useId();
  const [wd, setWd] = useState<number | null>(null);
  const [lrText, setLrText] = useState('');
  const slider = useRef<HTMLInputElement>(null);
  /** True from the first movement of the slider until its value has been sent: the engine's value must not overwrite it. */
  const moving = useRef(false);
  const settle = useRef<ReturnType<typeof setTimeout> | null>(null);

  // A new run (or a change from elsewhere: a shortcut, a replayed schedule) resets what the controls show.
  const engineWd = optim?.weightDecay ?? null;
  const engineLr = optim?.lr ?? null;
  useEffect(() => {
    if (!moving.current) setWd(engineWd);
  }, [engineWd, runId]);
  useEffect(() => setLrText(engineLr === null ? '' : String(engineLr)), [engineLr, runId]);

  // The native `change` event fires when the user lets go of the slider (or per key press): send the value once
  // it has rested, so a drag (or a burst of arrow keys) is one change and one marker.
  useEffect(() => {
    const input = slider.current;
    if (!input) return;
    const onCommit = () => {
      if (settle.current) clearTimeout(settle.current);
      settle.current = setTimeout(() => {
        settle.current = null;
        const value = Number(input.value);
        const sent = value !== labStore.getState().status.optim?.weightDecay ? actions.setHyper({ weightDecay: value }) : Promise.resolve();
        void sent.finally(() => {
          moving.current = false;
          setWd(labStore.getState().status.optim?.weightDecay ?? null);
        });
      }, SLIDER_SETTLE_MS);
    };
    input.addEventListener('change', onCommit);
    return () => {
      input.removeEventListener('change', onCommit);
      if (settle.current) clearTimeout(settle.current);
    };
  }, []);

  const onSlide = (value: number) => {
    moving.current = true;
    if (settle.current) clearTimeout(settle.current); // still moving: wait for the next change event
    setWd(value);
  };

  const lrCheck = checkRate(lrText, 'lr');
  const applyLr = () => {
    if (lrCheck.ok && lrCheck.value !== engineLr) void actions.setHyper({ lr: lrCheck.value });
  };

  return (
    <fieldset className="section live-controls">
      <legend>Live changes</legend>
      <p className="live-title muted">They act on the running model at its next step and mark every chart.</p>
      <div className="field slider-field">
        <label htmlFor={wdId}>
          Weight decay <output htmlFor={wdId} data-testid="wd-value">{wd === null ? '–' : wd.toFixed(2)}</output>
        </label>
        <input
          id={wdId}
          ref={slider}
          type="range"
          min={0}
          max={WD_MAX}
          step={0.05}
          value={wd ?? 0}
          disabled={!live}
          onChange={(e) => onSlide(Number(e.target.value))}
          data-testid="wd-slider"
          aria-valuetext={wd === null ? 'no run' : `weight decay ${wd.toFixed(2)}`}
        />
        <span className="field-hint">[ and ] change it by 0.1</span>
      </div>
      <div className={lrCheck.ok || !live ? 'field' : 'field invalid'}>
        <label htmlFor={lrId}>Learning rate</label>
        <div className="inline">
          <input
            id={lrId}
            type="text"
            inputMode="decimal"
            value={lrText}
            disabled={!live}
            onChange={(e) => setLrText(e.target.value)}
            onKeyDown={(e) => e.key === 'Enter' && applyLr()}
            aria-invalid={!lrCheck.ok && live ? true : undefined}
            aria-describedby={`${lrId}-hint`}
            data-testid="lr-live"
          />
          <button type="button" onClick={applyLr} disabled={!live || !lrCheck.ok || lrCheck.value === engineLr}>
            Apply
          </button>
        </div>
        <span id={`${lrId}-hint`} className={!lrCheck.ok && live ? 'field-error' : 'field-hint'}>
          {!lrCheck.ok && live ? lrCheck.message : 'Enter or Apply sends it'}
        </span>
      </div>
    </fieldset>
  );
}

/** For the keyboard shortcuts: nudge the live weight decay by `delta`, within the slider's range. */
export function nudgeWeightDecay(current: number, delta: number): number {
  return Math.min(WD_MAX, Math.max(0, Math.round((current + delta) * 100) / 100));
}
