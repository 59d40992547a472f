// The classroom's guided "watch it grok" walkthrough on its run (CLASSROOM_RUN, quick-dyck; or the recorded demo of
// it): one step at a time (Back / Next, or the arrow and Page keys a presentation clicker sends), following the run
// as its moments happen, a running commentary on the run, and a line for each key moment that says when it
// happened, what it is waiting for, or that the run ended without it. Everything shown comes from the
// store (the worker's batches -> key moments); the buttons only send commands.
import { useEffect, useId, useRef } from 'react';
import { CHART_INK } from './charts/palette';
import { WALKTHROUGH_STEPS, followRun, isGoing, momentLines, narration, settingsText, type MomentLine, type RunContext } from './walkthrough';
import { WALKTHROUGH_PRESET, actions, labStore, useLab } from './lab';
import type { KeyMomentKind } from '../store/key-moments';
import { presetDefaults } from '../store/run-form';
import { causalOn } from './live-causal/causal-charts';

const SWATCH: Record<KeyMomentKind, string> = {
  memorisation: CHART_INK.memorisation,
  grokking: CHART_INK.grokking,
  'decay-driven': CHART_INK.decayDriven,
  'edge-necessary': CHART_INK.edgeNecessary,
};
const STATE_ICON: Record<MomentLine['state'], string> = { seen: '✓', waiting: '…', missed: '✗' };

function MomentItem({ line }: { line: MomentLine }) {
  return (
    <li className={`moment moment-${line.state}`} data-moment={line.kind} data-state={line.state}>
      <span className="moment-swatch" style={{ background: SWATCH[line.kind] }} aria-hidden="true">
        {STATE_ICON[line.state]}
      </span>
      <span>
        <strong>{line.title}.</strong> {line.text}
      </span>
    </li>
  );
}

function useRunContext(): RunContext {
  const phase = useLab((s) => s.status.phase);
  const spectral = useLab((s) => (s.config ? s.config.spectral.enabled : null));
  const recording = useLab((s) => s.status.recording !== null);
  const causal = useLab((s) => causalOn(s.config));
  return { phase, spectral, causal, recording };
}

/** The settings of the walkthrough's run: the run on show (its weight decay as the engine has it now), else the form's. */
function RunSettings() {
  const form = useLab((s) => s.form);
  const config = useLab((s) => s.config);
  const nowWd = useLab((s) => s.status.optim?.weightDecay ?? null);
  if (config && config.preset === WALKTHROUGH_PRESET) {
    const run = { preset: config.preset, seed: config.seed, steps: config.steps, weightDecay: config.optim.weightDecay };
    return (
      <p className="walkthrough-settings" data-testid="walkthrough-settings">
        {settingsText(run, nowWd)}
      </p>
    );
  }
  // What Start will run: the form when it is on the classroom preset, else that preset's own settings (and the form's seed).
  const values = form.preset === WALKTHROUGH_PRESET ? form.values : { ...presetDefaults(WALKTHROUGH_PRESET), seed: form.values.seed };
  const run = { preset: WALKTHROUGH_PRESET, seed: Number(values.seed), steps: Number(values.steps), weightDecay: Number(values.weightDecay) };
  return (
    <p className="walkthrough-settings" data-testid="walkthrough-settings">
      {settingsText(run, null)}
    </p>
  );
}

function RunButtons({ canTrain }: { canTrain: boolean }) {
  const phase = useLab((s) => s.status.phase);
  const busy = phase === 'preparing' || phase === 'recovering';
  return (
    <div className="button-row walkthrough-run" role="group" aria-label="Run">
      {phase === 'running' ? (
        <button type="button" onClick={() => void actions.pause()} data-testid="walkthrough-pause">
          Pause
        </button>
      ) : (
        <button type="button" onClick={() => void actions.resume()} disabled={phase !== 'paused'} data-testid="walkthrough-resume">
          Resume
        </button>
      )}
      <button type="button" onClick={() => void actions.startWalkthroughRun()} disabled={busy || !canTrain || phase === 'idle'}>
        Start again
      </button>
    </div>
  );
}

export function Walkthrough({ canTrain }: { canTrain: boolean }) {
  const titleId = useId();
  const index = useLab((s) => Math.min(s.walkthroughStep, WALKTHROUGH_STEPS.length - 1));
  const moments = useLab((s) => s.moments);
  const run = useRunContext();
  const heading = useRef<HTMLHeadingElement>(null);
  /** Set by a button that removes itself (Start the run): focus moves to the new step's heading. */
  const focusStep = useRef(false);
  useEffect(() => {
    if (focusStep.current) heading.current?.focus();
    focusStep.current = false;
  }, [index]);

  // Follow the run: a new moment moves the walkthrough on to what to watch next, also when it comes with the batch
  // that ends the run (the last evaluation, or a recording skipped to its end).
  const seenBefore = useRef(moments);
  const phaseBefore = useRef(run.phase);
  useEffect(() => {
    const before = seenBefore.current;
    const wasGoing = isGoing(phaseBefore.current);
    seenBefore.current = moments;
    phaseBefore.current = run.phase;
    const { walkthroughStep, setWalkthroughStep } = labStore.getState();
    const next = followRun(walkthroughStep, before, moments, wasGoing || isGoing(run.phase));
    if (next !== walkthroughStep) setWalkthroughStep(next);
  }, [moments, run.phase]);

  const step = WALKTHROUGH_STEPS[index];
  const lines = momentLines(moments, run);
  const busy = run.phase === 'preparing' || run.phase === 'recovering';
  const first = index === 0;
  const last = index === WALKTHROUGH_STEPS.length - 1;
  const goTo = (i: number) => {
    focusStep.current = true;
    labStore.getState().setWalkthroughStep(i);
  };
  const startRun = () => {
    void actions.startWalkthroughRun();
    goTo(1);
  };
  const playDemo = () => {
    void actions.playDemo();
    goTo(1);
  };
  const runWithoutDecay = () => {
    void actions.startWalkthroughRun({ weightDecay: '0' });
    goTo(1);
  };

  return (
    <section className="section walkthrough" aria-labelledby={titleId} data-testid="walkthrough">
      <h2 id={titleId}>Watch it grok</h2>
      <ol className="walkthrough-progress" aria-label="Walkthrough steps">
        {WALKTHROUGH_STEPS.map((s, i) => (
          <li key={s.id} aria-current={i === index ? 'step' : undefined} className={i === index ? 'current' : i < index ? 'done' : undefined}>
            {s.title}
          </li>
        ))}
      </ol>
      {/* Screen readers hear the step when it changes and each key moment when it happens, not every evaluation. */}
      <p className="sr-only" role="status">
        Step {index + 1} of {WALKTHROUGH_STEPS.length}: {step.title}.
      </p>
      <div className="sr-only" role="status">
        {lines
          .filter((l) => l.state !== 'waiting')
          .map((l) => (
            <p key={l.kind}>{l.text}</p>
          ))}
      </div>
      <div className="walkthrough-step" data-testid="walkthrough-step" data-step={step.id}>
        <p className="walkthrough-count">
          Step {index + 1} of {WALKTHROUGH_STEPS.length}
        </p>
        <h3 ref={heading} tabIndex={-1}>
          {step.title}
        </h3>
        <p>{step.text}</p>
        {step.id === 'task' && (
          <>
            <RunSettings />
            <div className="button-row">
              <button type="button" className="primary" onClick={startRun} disabled={busy || !canTrain} data-testid="walkthrough-start">
                Start the run
              </button>
              <button type="button" className={canTrain ? undefined : 'primary'} onClick={playDemo} disabled={busy} data-testid="walkthrough-demo" title="A run recorded by this lab's engine, played back: for a computer without WebGPU or with a slow GPU">
                Play the recorded demo
              </button>
            </div>
          </>
        )}
        {step.id === 'try' && (
          <button type="button" className="primary" onClick={runWithoutDecay} disabled={busy || !canTrain} data-testid="walkthrough-no-decay">
            Run again without weight decay
          </button>
        )}
        {step.moment && (
          <ul className="moment-log current-moment">
            <MomentItem line={lines.find((l) => l.kind === step.moment)!} />
          </ul>
        )}
      </div>
      <div className="button-row walkthrough-nav" role="group" aria-label="Walkthrough navigation">
        <button type="button" aria-disabled={first} onClick={() => !first && actions.moveWalkthrough(-1)} data-testid="walkthrough-back" title="Previous step (← or Page Up)">
          ← Back
        </button>
        <button type="button" aria-disabled={last} onClick={() => !last && actions.moveWalkthrough(1)} data-testid="walkthrough-next" title="Next step (→ or Page Down)">
          Next →
        </button>
      </div>
      <RunButtons canTrain={canTrain} />
      <p className="narration" data-testid="narration">
        {narration(moments, run)}
      </p>
      <h3 className="moment-log-title">Key moments</h3>
      <ul className="moment-log" data-testid="moment-log">
        {lines.map((line) => (
          <MomentItem key={line.kind} line={line} />
        ))}
      </ul>
    </section>
  );
}
